"""Where tasks run: one small interface, three engines (local processes, Slurm, Ray).

An executor is told ``submit(tasks)`` and asked ``poll(timeout)`` for the outcomes that arrived;
``close()`` stops what it started. It never decides anything: retries, resume and records are the
driver's and the task's business (:mod:`dsd.sweep.driver`, :mod:`dsd.sweep.task`), so every engine
behaves the same after a crash.

- ``local``: long-lived worker processes on this machine, ``models_per_gpu`` per visible GPU
  (each sees only its own GPU and may use its share of that GPU's memory) or ``slots`` CPU
  workers with ``threads_per_slot`` threads each.
- ``slurm``: submitit job arrays (``max_parallel`` tasks at once), requeued on preemption and
  time-out through submitit's checkpointing.
- ``ray``: one remote task per model with ``gpus_per_task`` GPUs; joins the cluster at
  ``address`` or starts a local one.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dsd.errors import DsdError
from dsd.sweep.task import Outcome, Task
from dsd.validate import check_numbers

KINDS = ("local", "slurm", "ray")


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
            if value is not None and value < 1:
                raise DsdError(f"executor {name} must be >= 1, got {value}")
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


SLURM_COMMANDS = ("sbatch", "srun", "sacct", "scancel")


def check_available(settings: ExecutorSettings) -> None:
    """Raise DsdError if the executor ``settings.kind`` cannot run on this machine (before a run
    directory is created): Slurm needs its commands on PATH, slurm and ray their packages."""
    if settings.kind == "slurm":
        missing = [c for c in SLURM_COMMANDS if shutil.which(c) is None]
        if missing:
            raise DsdError(
                f"--executor slurm: {', '.join(missing)} not found on PATH; run on a Slurm login "
                "node (or use --executor local)"
            )
    package = {"slurm": "submitit", "ray": "ray"}.get(settings.kind)
    if package and importlib.util.find_spec(package) is None:
        raise DsdError(f"the {settings.kind} executor needs {package}: pip install 'dsd[cluster]'")


def make_executor(settings: ExecutorSettings, run_dir: str | os.PathLike) -> Executor:
    """The executor ``settings.kind`` describes, ready to take tasks."""
    check_available(settings)
    if settings.kind == "local":
        from dsd.sweep.exec_local import LocalExecutor

        return LocalExecutor(settings)
    package = {"slurm": "submitit", "ray": "ray"}[settings.kind]
    try:
        if settings.kind == "slurm":
            from dsd.sweep.exec_slurm import SlurmExecutor

            return SlurmExecutor(settings, Path(run_dir))
        from dsd.sweep.exec_ray import RayExecutor

        return RayExecutor(settings)
    except ModuleNotFoundError as e:
        if e.name != package:
            raise
        raise DsdError(
            f"the {settings.kind} executor needs {package}: pip install 'dsd[cluster]'"
        ) from None
