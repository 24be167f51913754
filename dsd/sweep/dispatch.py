"""The driver's loop: hand every task without a record to an executor and act on the outcomes.

Failed attempts are retried up to ``max_retries`` (diverged models are final), a worker that
vanished counts as a failed attempt, tasks a previous driver's jobs are still training (live
claims) are watched until they finish or their claim goes stale, and a run-level problem (the
data set cannot be loaded, the disk is full) stops the sweep.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Sequence

from tqdm import tqdm

from dsd.errors import DataError
from dsd.sweep.executors import Executor
from dsd.sweep.folder import RunFolder
from dsd.sweep.task import ABORT, BUSY, DONE, LOST, RETRY, Outcome, Task, count_failure


class _Progress:
    """A progress bar (tqdm on a terminal) with the counts by status."""

    def __init__(self, total: int, done: int, enabled: bool):
        self.counts: Counter[str] = Counter()
        self.bar = tqdm(
            total=total, initial=done, unit="model", disable=not enabled, file=sys.stderr
        )

    def finished(self, status: str) -> None:
        """Count one finished model."""
        self.counts[status] += 1
        self.bar.set_postfix(self.counts, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        """Remove the bar."""
        self.bar.close()


def _lost(task: Task) -> Outcome | None:
    """A task whose worker vanished: done if it wrote its record, else a failed attempt."""
    status = task.folder.record_status(task.task_id)
    if status:  # it died after writing its record
        return Outcome(task.task_id, DONE, status)
    task.folder.release(task.task_id)  # its owner is known dead: count a failed attempt
    return None


class _Dispatcher:
    """The driver's bookkeeping: tasks handed to the executor, and tasks others are training."""

    def __init__(self, folder: RunFolder, tasks: Sequence[Task], executor: Executor, bar):
        self.folder, self.executor, self.bar = folder, executor, bar
        self.by_id = {t.task_id: t for t in tasks}
        self.outstanding: set[str] = set()  # handed to the executor, no final outcome yet
        self.watch: set[str] = set()  # a live claim elsewhere (an older driver's job) trains it
        self.outcomes = 0

    def submit(self, task_ids: Sequence[str]) -> None:
        """Hand these tasks to the executor."""
        self.outstanding.update(task_ids)
        self.executor.submit([self.by_id[t] for t in task_ids])

    def handle(self, o: Outcome) -> None:
        """Act on one outcome: count it, retry it, watch it, or stop the run."""
        self.outcomes += 1
        self.outstanding.discard(o.task_id)
        if o.kind == LOST:
            task = self.by_id[o.task_id]
            o = _lost(task) or count_failure(task, o.reason)
        if o.kind == DONE:
            self.bar.finished(o.status or "done")
        elif o.kind == RETRY:
            self.submit([o.task_id])
        elif o.kind == BUSY:
            self.watch.add(o.task_id)
        elif o.kind == ABORT:
            raise DataError(o.reason)

    def check_watched(self) -> None:
        """Count watched tasks that finished; take over those whose owner went silent."""
        for tid in sorted(self.watch):
            status = self.folder.record_status(tid)
            if status:
                self.watch.discard(tid)
                self.bar.finished(status)
            elif not self.folder.claim_is_live(tid):
                self.watch.discard(tid)
                self.submit([tid])

    def run(self, poll_s: float) -> None:
        """Poll until every task is done."""
        last_check = time.time()
        while self.outstanding or self.watch:
            for o in self.executor.poll(poll_s if self.outstanding else 0.0):
                self.handle(o)
            if self.watch and (not self.outstanding or time.time() - last_check > poll_s):
                if not self.outstanding:
                    time.sleep(poll_s)
                last_check = time.time()
                self.check_watched()


def drive(
    folder: RunFolder,
    tasks: Sequence[Task],
    todo: Sequence[str],
    executor: Executor,
    *,
    done: int = 0,
    progress: bool = True,
    poll_s: float = 1.0,
) -> int:
    """Run the tasks ``todo`` (ids of ``tasks`` without a record; ``done`` others are finished)
    to completion; return how many outcomes arrived."""
    bar = _Progress(done + len(todo), done, progress)
    dispatcher = _Dispatcher(folder, tasks, executor, bar)
    live = folder.live_claims()
    dispatcher.watch = {t for t in todo if t in live}
    try:
        dispatcher.submit([t for t in todo if t not in dispatcher.watch])
        dispatcher.run(poll_s)
    finally:
        bar.close()
    return dispatcher.outcomes
