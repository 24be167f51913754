"""The Slurm executor: submitit job arrays, one array task per model, at most ``max_parallel``
queued; a preempted or timed-out task is requeued (submitit's ``Checkpointable``) and retakes
its claim. Jobs run the driver's Python, so the run folder must be on a shared file system.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections import deque
from collections.abc import Sequence

import submitit

from dsd.errors import DsdError
from dsd.sweep.executors import Executor, ExecutorSettings
from dsd.sweep.folder import RunFolder
from dsd.sweep.task import LOST, Outcome, Task, execute, use_threads

MAX_ARRAY = 1000  # Slurm's default MaxArraySize is 1001 (indices 0-1000)


class _SlurmTask(submitit.helpers.Checkpointable):
    """Runs one task inside a Slurm job; requeued as is on preemption or time-out."""

    def __call__(self, task: Task) -> Outcome:
        cpus = os.environ.get("SLURM_CPUS_PER_TASK")
        if cpus:  # size CPU thread pools to the job's allocation, not to the whole node
            os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = cpus
            use_threads(int(cpus))  # torch may have come in while unpickling the task's config
        return execute(task)


def _last_line(e: BaseException) -> str:
    """The last line of an exception's message (submitit quotes whole logs)."""
    lines = str(e).strip().splitlines()
    return lines[-1] if lines else type(e).__name__


def slurm_parameters(settings: ExecutorSettings) -> dict:
    """submitit parameters for ``settings``."""
    params = {
        "timeout_min": max(1, math.ceil(settings.time_min)),
        "cpus_per_task": settings.cpus_per_task,
        "name": "dsd-sweep",
    }
    optional = {
        "slurm_partition": settings.partition,
        "gpus_per_node": math.ceil(settings.gpus_per_task),
        "mem_gb": settings.mem_gb,
    }
    return {**params, **{k: v for k, v in optional.items() if v}}


class SlurmExecutor(Executor):
    """Runs tasks as Slurm array jobs through submitit."""

    def __init__(self, settings: ExecutorSettings, folder: RunFolder):
        self._ex = submitit.AutoExecutor(folder=folder.slurm_logs / "%j", cluster="slurm")
        self._ex.update_parameters(**slurm_parameters(settings))
        self._settings = settings
        self._cap = settings.max_parallel
        self._queue: deque[Task] = deque()
        self._jobs: dict[submitit.Job, str] = {}
        self._last_force = 0.0
        self.slots = settings.max_parallel or MAX_ARRAY

    def submit(self, tasks: Sequence[Task]) -> None:
        """Queue the tasks; they go to Slurm as job arrays, at most ``max_parallel`` at once."""
        self._queue.extend(tasks)
        self._top_up()

    def _top_up(self) -> None:
        """Submit queued tasks as arrays while the cap leaves room (all of them without a cap)."""
        while self._queue:
            room = MAX_ARRAY if self._cap is None else self._cap - len(self._jobs)
            if room <= 0:
                return
            batch = [self._queue.popleft() for _ in range(min(room, MAX_ARRAY, len(self._queue)))]
            self._ex.update_parameters(slurm_array_parallelism=len(batch))
            try:
                jobs = self._ex.map_array(_SlurmTask(), batch)
            except Exception as e:  # sbatch refused the array: no traceback, one line
                raise DsdError(f"slurm: cannot submit jobs ({_last_line(e)})"[:500]) from None
            self._jobs.update({job: t.task_id for job, t in zip(jobs, batch, strict=True)})

    def poll(self, timeout: float) -> list[Outcome]:
        """Outcomes of the jobs that ended, waiting up to ``timeout`` for one."""
        deadline = time.time() + timeout
        while True:
            force = time.time() - self._last_force > 5  # ask sacct now and then for dead jobs
            if force:
                self._last_force = time.time()
            try:
                done = [j for j in self._jobs if j.done(force_check=force)]
            except Exception as e:  # sacct failing for good: one line, not submitit's traceback
                raise DsdError(
                    f"slurm: cannot read the jobs' states ({_last_line(e)})"[:500]
                ) from None
            if done or time.time() >= deadline:
                outcomes = [self._outcome(j) for j in done]
                self._top_up()
                return outcomes
            time.sleep(min(0.25, max(0.0, deadline - time.time())))

    def _outcome(self, job: submitit.Job) -> Outcome:
        """The outcome a finished job returned, or ``lost`` if it died."""
        task_id = self._jobs.pop(job)
        try:
            return job.result()
        except Exception as e:  # job failed, cancelled, node lost, out of memory...
            return Outcome(
                task_id, LOST, "", f"slurm job {job.job_id} ended: {_last_line(e)}"[:500]
            )

    def describe(self) -> str:
        """``slurm jobs on partition gpu, at most 64 at once, 1 GPU and 10 CPUs each``."""
        s = self._settings
        where = f" on partition {s.partition}" if s.partition else ""
        cap = f"at most {s.max_parallel} at once" if s.max_parallel else "no cap"
        gpus = f"{math.ceil(s.gpus_per_task)} GPU and " if s.gpus_per_task else "no GPU, "
        return f"slurm jobs{where}, {cap}, {gpus}{s.cpus_per_task} CPU(s) each"

    def job_ids(self) -> list[str]:
        """The ids of the jobs not yet reported (for tests and diagnostics)."""
        return [j.job_id for j in self._jobs]

    def close(self) -> None:
        """Cancel the jobs still queued or running (their claims become stale)."""
        for job in list(self._jobs):
            with contextlib.suppress(Exception):  # best effort: it may have ended on its own
                job.cancel(check=False)
        self._jobs.clear()
        self._queue.clear()
