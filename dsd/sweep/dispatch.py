"""The driver's loop: hand every task without a record to an executor and act on the outcomes
(retry, watch another driver's live claims, stop the run on a run-level problem)."""

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


class _Dispatcher:
    """The driver's bookkeeping: tasks handed to the executor, and tasks others are training."""

    def __init__(self, folder: RunFolder, tasks: Sequence[Task], executor: Executor, bar: tqdm):
        self.folder, self.executor, self.bar = folder, executor, bar
        self.by_id = {t.task_id: t for t in tasks}
        self.outstanding: set[str] = set()  # handed to the executor, no final outcome yet
        self.watch: set[str] = set()  # a live claim elsewhere (an older driver's job) trains it
        self.outcomes = 0
        self.counts: Counter[str] = Counter()

    def finished(self, status: str) -> None:
        """Count one finished model on the progress bar."""
        self.counts[status] += 1
        self.bar.set_postfix(self.counts, refresh=False)
        self.bar.update(1)

    def submit(self, task_ids: Sequence[str]) -> None:
        """Hand these tasks to the executor."""
        self.outstanding.update(task_ids)
        self.executor.submit([self.by_id[t] for t in task_ids])

    def handle(self, o: Outcome) -> None:
        """Act on one outcome: count it, retry it, watch it, or stop the run."""
        self.outcomes += 1
        self.outstanding.discard(o.task_id)
        if o.kind == LOST:  # its worker vanished
            task = self.by_id[o.task_id]
            status = task.folder.record_status(o.task_id)
            if status:  # it died after writing its record
                o = Outcome(o.task_id, DONE, status)
            else:  # its owner is known dead: count a failed attempt
                task.folder.release(o.task_id)
                o = count_failure(task, o.reason)
        if o.kind == DONE:
            self.finished(o.status or "done")
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
                self.finished(status)
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
    """Run the tasks ``todo`` (``done`` others are finished); return how many outcomes arrived."""
    total = done + len(todo)
    bar = tqdm(total=total, initial=done, unit="model", disable=not progress, file=sys.stderr)
    dispatcher = _Dispatcher(folder, tasks, executor, bar)
    dispatcher.watch = set(todo) & folder.live_claims()
    try:
        dispatcher.submit([t for t in todo if t not in dispatcher.watch])
        dispatcher.run(poll_s)
    finally:
        bar.close()
    return dispatcher.outcomes
