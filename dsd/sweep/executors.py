"""Where tasks run: one small interface (submit, poll, close, describe), three engines
(``exec_local``, ``exec_slurm``, ``exec_ray``), their settings, and :func:`check_available`.
An executor decides nothing: retries, resume and records are the driver's and the task's.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from dsd.errors import DsdError
from dsd.sweep.task import Outcome, Task
from dsd.validate import MAX_THREADS, check_numbers

KINDS = ("local", "slurm", "ray")
#: The most models at once on a cluster.
MAX_PARALLEL = 1_000_000
#: Slurm commands the executor runs (sinfo for the checks, the others through submitit).
SLURM_COMMANDS = ("sinfo", "sbatch", "srun", "sacct", "scancel")
#: How long the checks wait for Slurm's controller or a Ray cluster to answer.
ANSWER_S = 15.0
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.:/@+-]+")


@dataclass(frozen=True)
class ExecutorSettings:
    """How and where to run the models of a sweep (the ``executor:`` section of an experiment)."""

    kind: str = "local"  # local | slurm | ray
    slots: int | None = None  # local/ray on CPU: models at once (default: one per CPU core)
    gpus: int | None = None  # local: GPUs to use (default: every visible one; 0 = CPU only)
    models_per_gpu: int = 1  # local: models trained at once on each GPU (one process each)
    threads_per_slot: int | None = None  # CPU threads per model (default: cores / slots)
    max_retries: int = 2  # extra attempts for a failed (not a diverged) model
    max_parallel: int | None = None  # slurm: array parallelism; ray: tasks in flight
    partition: str | None = None  # slurm partition
    time_min: float = 60  # time limit per model (slurm: requeued; local: a failed attempt)
    gpus_per_task: float = 0.0  # slurm/ray: GPUs per model (slurm rounds up)
    cpus_per_task: int = 1  # slurm/ray: CPU cores per model
    mem_gb: float | None = None  # slurm: memory per model
    address: str | None = None  # ray: cluster to join ("auto", "ray://host:port"); none = start one
    heartbeat_s: float = 10.0  # how often a training model refreshes its claim
    stale_s: float = 60.0  # a claim silent this long is abandoned (lost node) and retrained

    def __post_init__(self) -> None:
        """Reject impossible settings before anything starts."""
        check_numbers(self, "executor")
        if not self.heartbeat_s > 0 or (self.mem_gb is not None and not self.mem_gb > 0):
            raise DsdError("executor heartbeat_s and mem_gb must be > 0")
        if self.kind not in KINDS:
            raise DsdError(f"unknown executor {self.kind!r} (use one of {', '.join(KINDS)})")
        for name in ("slots", "threads_per_slot", "max_parallel", "models_per_gpu"):
            value = getattr(self, name)
            high = MAX_PARALLEL if name == "max_parallel" else MAX_THREADS  # one machine's
            if value is not None and not 1 <= value <= high:
                raise DsdError(f"executor {name} must be from 1 to {high:,}, got {value}")
        if self.gpus is not None and self.gpus < 0:
            raise DsdError(f"executor gpus must be >= 0, got {self.gpus}")
        if self.max_retries < 0 or self.time_min <= 0 or self.cpus_per_task < 1:
            raise DsdError("executor max_retries must be >= 0, time_min > 0, cpus_per_task >= 1")
        if self.gpus_per_task < 0:
            raise DsdError(f"executor gpus_per_task must be >= 0, got {self.gpus_per_task}")
        if self.models_per_gpu > 1 and self.kind != "local":
            raise DsdError(
                f"executor models_per_gpu is for the local executor, not {self.kind} (ray: "
                "gpus_per_task 0.25 puts four models on a GPU; slurm: one model a GPU for now)"
            )
        if self.stale_s <= 2 * self.heartbeat_s:
            raise DsdError("executor stale_s must exceed twice heartbeat_s")
        for name in ("partition", "address"):
            value = getattr(self, name)
            if value is not None and not _PLAIN_NAME.fullmatch(value):
                why = f"executor {name} {value!r}: only letters, digits and _ . : / @ + - allowed"
                raise DsdError(why[:300])


class Executor(ABC):
    """Runs tasks somewhere and reports their outcomes."""

    slots: int = 1  # how many tasks run at once (for progress and ETA)

    @abstractmethod
    def submit(self, tasks: Sequence[Task]) -> None:
        """Queue these tasks to run (returns at once)."""

    @abstractmethod
    def poll(self, timeout: float) -> list[Outcome]:
        """Outcomes that arrived, waiting up to ``timeout`` seconds for the first one."""

    @abstractmethod
    def close(self) -> None:
        """Stop the workers/jobs/cluster this executor started."""

    @abstractmethod
    def describe(self) -> str:
        """Where the models train, in a few words (devices and workers)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def cpu_count() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_available(settings: ExecutorSettings) -> None:
    """DsdError (one line) if the executor ``settings.kind`` cannot run here; creates nothing."""
    if settings.kind == "slurm":
        _check_slurm(settings)
    package = {"slurm": "submitit", "ray": "ray"}.get(settings.kind)
    if package and importlib.util.find_spec(package) is None:
        raise DsdError(f"the {settings.kind} executor needs {package}: pip install 'dsd[cluster]'")
    if settings.kind == "ray" and settings.address:
        _check_ray_address(settings.address)


def _check_slurm(settings: ExecutorSettings) -> None:
    """Slurm's commands on PATH, a controller that answers, the partition asked for."""
    missing = [c for c in SLURM_COMMANDS if shutil.which(c) is None]
    if missing:
        raise DsdError(
            f"--executor slurm: {', '.join(missing)} not found on PATH; run on a Slurm login "
            "node (or use --executor local)"
        )
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%R"], capture_output=True, text=True, timeout=ANSWER_S
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DsdError(f"slurm: sinfo did not answer ({type(e).__name__})") from None
    if out.returncode != 0:
        why = (out.stderr.strip().splitlines() or [f"exit code {out.returncode}"])[-1]
        raise DsdError(f"slurm: the controller does not answer (sinfo: {why})"[:400])
    partitions = sorted(set(out.stdout.split()))
    if settings.partition and settings.partition not in partitions:
        raise DsdError(
            f"slurm: no partition {settings.partition!r} (this cluster has: "
            f"{', '.join(partitions) or 'none'})"[:400]
        )


def _check_ray_address(address: str) -> None:
    """The Ray client for ``ray://`` addresses, and a cluster that answers at the address."""
    if address == "auto":
        return  # ray.init finds the local cluster or says there is none
    if address.startswith("ray://") and importlib.util.find_spec("grpc") is None:
        raise DsdError(f"ray: {address} needs the Ray client: pip install 'ray[client]'")
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise DsdError(f"ray: address {address!r} is not auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=ANSWER_S).close()
    except (OSError, ValueError) as e:
        why = getattr(e, "strerror", None) or type(e).__name__
        raise DsdError(f"ray: no cluster answers at {address} ({why})") from None
