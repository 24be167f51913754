"""The Ray executor: one remote task per model (``cpus_per_task``, ``gpus_per_task``; Ray's own
retries off), on the cluster at ``address`` (left running) or on a local runtime it starts and
shuts down.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Sequence

import ray

from dsd.errors import DsdError
from dsd.sweep.executors import Executor, ExecutorSettings, cpu_count
from dsd.sweep.task import LOST, Outcome, Task, execute

LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # the sweep moves small records only


def _start(settings: ExecutorSettings) -> None:
    """Join the cluster at ``settings.address`` or start a local runtime; else DsdError."""
    try:
        if settings.address:
            ray.init(address=settings.address, log_to_driver=False)
        else:
            ray.init(
                num_cpus=settings.slots or cpu_count(),
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                log_to_driver=False,
            )
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # even Ray's SystemExit: one line, never a traceback
        lines = str(e).strip().splitlines() or [type(e).__name__]
        where = settings.address or "a local runtime"
        raise DsdError(f"ray: cannot start on {where} ({lines[0]})"[:500]) from None


class RayExecutor(Executor):
    """Runs tasks as Ray remote tasks."""

    def __init__(self, settings: ExecutorSettings):
        self._owns_runtime = not ray.is_initialized()
        if self._owns_runtime:
            _start(settings)
        self._remote = ray.remote(execute).options(
            num_cpus=settings.cpus_per_task,
            num_gpus=settings.gpus_per_task,
            max_retries=0,
        )
        self._cap = settings.max_parallel
        self._queue: deque[Task] = deque()
        self._refs: dict[ray.ObjectRef, str] = {}
        self.slots = int(ray.cluster_resources().get("CPU", 1) // settings.cpus_per_task) or 1
        self._settings = settings

    def describe(self) -> str:
        """``ray (local runtime), 2 models at once, 0.25 GPU each``."""
        s = self._settings
        where = f"ray cluster {s.address}" if s.address else "ray (local runtime)"
        gpus = f", {s.gpus_per_task:g} GPU each" if s.gpus_per_task else ", no GPU"
        return f"{where}, {self.slots} model(s) at once{gpus}"

    def submit(self, tasks: Sequence[Task]) -> None:
        """Queue tasks; at most ``max_parallel`` are handed to Ray at once."""
        self._queue.extend(tasks)
        self._fill()

    def _fill(self) -> None:
        """Hand queued tasks to Ray up to the cap."""
        while self._queue and (self._cap is None or len(self._refs) < self._cap):
            task = self._queue.popleft()
            self._refs[self._remote.remote(task)] = task.task_id

    def poll(self, timeout: float) -> list[Outcome]:
        """Outcomes of the tasks that ended, waiting up to ``timeout`` for one."""
        if not self._refs:
            return []
        try:
            ready, _ = ray.wait(list(self._refs), num_returns=1, timeout=timeout)
            if ready:
                ready, _ = ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
        except Exception as e:  # the cluster went away: one line, not Ray's traceback
            why = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise DsdError(f"ray: the cluster stopped answering ({why})"[:500]) from None
        outcomes = [self._outcome(ref) for ref in ready]
        self._fill()
        return outcomes

    def _outcome(self, ref: ray.ObjectRef) -> Outcome:
        """The outcome a finished task returned, or ``lost`` if its worker died."""
        task_id = self._refs.pop(ref)
        try:
            return ray.get(ref)
        except Exception as e:  # worker crashed, node died, task cancelled
            msg = str(e).strip().splitlines()
            return Outcome(task_id, LOST, "", f"ray task ended: {msg[0] if msg else e!r}"[:500])

    def close(self) -> None:
        """Cancel tasks in flight; shut down the runtime if this executor started it."""
        for ref in list(self._refs):
            with contextlib.suppress(Exception):  # best effort: it may have ended on its own
                ray.cancel(ref, force=True)
        self._refs.clear()
        self._queue.clear()
        if self._owns_runtime and ray.is_initialized():
            ray.shutdown()
