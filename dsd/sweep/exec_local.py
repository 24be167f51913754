"""The local executor: long-lived ``spawn``-ed worker processes on this machine, one model each
at a time, each pinned to one GPU (``models_per_gpu`` share it, each capped at its share of the
memory) or to a share of the CPU cores; workers die with the driver (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from dsd.errors import DsdError
from dsd.sweep.executors import Executor, ExecutorSettings, cpu_count
from dsd.sweep.task import LOST, Outcome, Task, execute, use_threads

PR_SET_PDEATHSIG = 1
# Fraction of a GPU's memory shared out between its workers (the rest: CUDA contexts, headroom).
GPU_MEMORY_SHARE = 0.9
MEMORY_ENV = "DSD_GPU_MEMORY_FRACTION"


def cuda_available() -> bool:
    """Whether torch can use CUDA here (a CPU build of torch or a machine without a GPU: no)."""
    import torch  # lazy: torch costs ~1.3 s; fake-trainer workers and the benchmarks skip it

    return bool(torch.cuda.is_available())


def usable_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES entries (none without CUDA)."""
    if not cuda_available():
        return []
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    import torch  # lazy: see cuda_available

    return [str(i) for i in range(torch.cuda.device_count())]


def _check_gpu_request(settings: ExecutorSettings, device: str, gpus: Sequence[str]) -> None:
    """DsdError for a request of GPUs (``settings.gpus``, a ``cuda`` device) that cannot be met."""
    wants, cuda = settings.gpus, device.startswith("cuda")
    if device == "cpu" and wants:
        raise DsdError(f"executor gpus {wants}: the recipe's device is cpu (use gpus 0)")
    if cuda and wants == 0:
        raise DsdError(f"device {device} with executor gpus 0: a CUDA device needs a GPU")
    if (wants or cuda) and not gpus:
        import torch  # lazy: see cuda_available

        if torch.version.cuda is None:
            why = f"torch {torch.__version__} is a CPU build"
        else:
            why = "CUDA is not available (no GPU, or no driver)"
        asked = f"executor gpus {wants}" if wants else f"device {device}"
        raise DsdError(f"{asked}: no GPU is usable here ({why}); train on the CPU with gpus 0")
    if wants and len(gpus) < wants:
        raise DsdError(f"executor gpus {wants}: only {len(gpus)} usable here ({', '.join(gpus)})")
    if cuda and device not in ("cuda", "cuda:0"):
        raise DsdError(
            f"device {device}: each local worker sees one GPU, as cuda:0; use device cuda (or "
            "auto) and executor gpus to choose how many"
        )


def worker_envs(
    settings: ExecutorSettings, device: str, gpus: Sequence[str]
) -> list[dict[str, str]]:
    """Each local worker's environment: one GPU, else a share of the CPU cores (never silently
    the CPU for a GPU request: DsdError)."""
    _check_gpu_request(settings, device, gpus)
    if device != "cpu" and settings.gpus != 0 and gpus:
        return gpu_worker_envs(
            gpus[: settings.gpus or len(gpus)], settings.models_per_gpu, cpu_count()
        )
    slots = settings.slots or cpu_count()
    threads = str(settings.threads_per_slot or max(1, cpu_count() // slots))
    cpu_env = {"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    return [dict(cpu_env) for _ in range(slots)]


def gpu_worker_envs(gpus: Sequence[str], models_per_gpu: int, cores: int) -> list[dict[str, str]]:
    """The environment of each GPU worker: ``models_per_gpu`` per GPU, GPUs interleaved, each
    with an equal share of its GPU's memory and of the ``cores`` CPU cores."""
    k = models_per_gpu
    threads = str(max(1, cores // max(1, len(gpus) * k)))
    share = {MEMORY_ENV: f"{GPU_MEMORY_SHARE / k:.4f}"} if k > 1 else {}
    return [
        {"CUDA_VISIBLE_DEVICES": g, "OMP_NUM_THREADS": threads, **share}
        for _ in range(k)
        for g in gpus
    ]


def _worker_main(env: dict[str, str], conn: Connection, parent: int) -> None:
    """A worker's life: set up its device, then run tasks from ``conn`` until told to stop."""
    with contextlib.suppress(OSError):  # Linux: SIGKILL this worker when the driver dies
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the driver died before we could ask to die with it
        os._exit(1)
    os.environ.update(env)
    if env.get("OMP_NUM_THREADS"):  # torch may have come in first: the spawned worker re-ran
        use_threads(int(env["OMP_NUM_THREADS"]))  # the parent's main module (a user's script)
    if env.get(MEMORY_ENV):
        import torch  # lazy: see cuda_available

        if torch.cuda.is_available():
            torch.cuda.set_per_process_memory_fraction(float(env[MEMORY_ENV]), 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    while (task := conn.recv()) is not None:
        try:
            outcome = execute(task)
        except BaseException as e:  # never let a task take the worker down silently
            outcome = Outcome(task.task_id, LOST, "", f"{type(e).__name__}: {e}")
        conn.send(outcome)


@dataclass
class _Worker:
    """The driver's handle on one worker process and the task it runs."""

    env: dict[str, str]
    proc: mp.process.BaseProcess | None = None
    conn: Connection | None = None
    task: Task | None = None
    started: float = 0.0


class LocalExecutor(Executor):
    """Runs tasks in worker processes on this machine, each pinned to one GPU or one CPU slot."""

    def __init__(
        self,
        settings: ExecutorSettings,
        device: str = "auto",
        envs: Sequence[dict[str, str]] | None = None,
    ):
        """Workers as :func:`worker_envs` lays them out, or one per entry of ``envs`` (``[{}]``:
        one worker that sees what this process sees)."""
        self._ctx = mp.get_context("spawn")
        self._queue: deque[Task] = deque()
        if envs is None:
            envs = worker_envs(settings, device, usable_gpus())
        self._workers = [_Worker(dict(env)) for env in envs]
        self._limit_s = 60.0 * settings.time_min
        self._device = device
        self.slots = len(self._workers)

    def describe(self) -> str:
        """``2 workers on the CPU, 1 thread each``, ``6 workers on GPUs 0, 1, 3 models a GPU``."""
        envs = [w.env for w in self._workers]
        n = f"{len(envs)} worker{'s' if len(envs) > 1 else ''}"
        threads = envs[0].get("OMP_NUM_THREADS", "?")
        on_cpu = f"{n} on the CPU, {threads} thread{'s' if threads != '1' else ''} each"
        if any("CUDA_VISIBLE_DEVICES" not in e for e in envs):  # they see this process's devices
            cuda = self._device != "cpu" and bool(usable_gpus())
            return f"{n} on {self._device.replace('auto', 'cuda')}" if cuda else on_cpu
        gpus = list(dict.fromkeys(e["CUDA_VISIBLE_DEVICES"] for e in envs))
        if gpus == [""]:
            return on_cpu
        share = f", {len(envs) // len(gpus)} models a GPU" if len(envs) > len(gpus) else ""
        return f"{n} on GPU{'s' if len(gpus) > 1 else ''} {', '.join(gpus)}{share}"

    def _start(self, w: _Worker) -> None:
        """Start (or restart) the process of worker ``w``."""
        ours, theirs = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=_worker_main, args=(w.env, theirs, os.getpid()), daemon=True
        )
        try:
            proc.start()
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        w.proc, w.conn, w.task = proc, ours, None

    def submit(self, tasks: Sequence[Task]) -> None:
        """Queue tasks; they start as workers free up."""
        self._queue.extend(tasks)
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand queued tasks to idle workers, starting workers on demand."""
        for w in self._workers:
            if not self._queue:
                return
            if w.task is not None:
                continue
            if w.proc is None or not w.proc.is_alive():
                self._start(w)
            w.task, w.started = self._queue.popleft(), time.time()
            w.conn.send(w.task)

    def poll(self, timeout: float) -> list[Outcome]:
        """Collect finished outcomes; a busy worker that died or ran past ``time_min`` is lost."""
        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            return []
        handles = [w.conn for w in busy] + [w.proc.sentinel for w in busy]
        ready = set(wait(handles, timeout))
        outcomes = []
        for w in busy:
            if w.conn in ready:
                try:
                    outcomes.append(w.conn.recv())
                    w.task = None
                    continue
                except (EOFError, OSError):
                    pass
            if w.conn in ready or w.proc.sentinel in ready:
                outcomes.append(self._lost(w))
            elif time.time() - w.started > self._limit_s:  # hung or far too slow: stop it
                w.proc.kill()
                outcomes.append(self._lost(w, f"timed out after {self._limit_s / 60:g} min"))
        self._dispatch()
        return outcomes

    def _lost(self, w: _Worker, why: str = "") -> Outcome:
        """Report the task of a worker that died, and forget the worker's process."""
        w.proc.join(timeout=5)
        code = w.proc.exitcode
        if not why:
            why = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        outcome = Outcome(w.task.task_id, LOST, "", f"worker process died ({why})")
        w.conn.close()
        w.proc, w.conn, w.task = None, None, None
        return outcome

    def close(self) -> None:
        """Stop every worker: politely if idle, by SIGKILL if still training."""
        self._queue.clear()
        for w in self._workers:
            if w.proc is None:
                continue
            if w.task is None and w.proc.is_alive():
                with contextlib.suppress(OSError):
                    w.conn.send(None)
                w.proc.join(timeout=2)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=5)
            w.conn.close()
            w.proc, w.conn, w.task = None, None, None
