"""One unit of a sweep: train one model, once, and leave exactly one record behind;
:func:`execute` is what every executor runs, wherever it runs, and it is idempotent.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from dsd.errors import DataError
from dsd.schema import blank_result, record_problem
from dsd.sweep.folder import Owner, RunFolder


class Trainer(Protocol):
    """What the sweep needs from whatever trains one model (picklable: it travels to workers)."""

    @property
    def seed(self) -> int:
        """The training seed."""

    @property
    def device(self) -> str:
        """The device it asks for: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""

    def with_seed(self, seed: int) -> Trainer:
        """The same trainer with another training seed."""

    def recipe_columns(self) -> dict[str, Any]:
        """The recipe columns of its records (data set, epochs, recipe; not the seed)."""

    def check(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """DsdError if these rows cannot be trained here (data set, device)."""

    def train(self, row: Mapping[str, Any]) -> Mapping[str, Any]:
        """The result record of one samples row; DataError for a run-level problem."""


# Outcome kinds an executor reports back to the driver.
DONE = "done"  # a final record exists (ok, diverged or failed for good)
RETRY = "retry"  # this attempt failed and was counted; run the task again
BUSY = "busy"  # another live worker holds the claim; the driver watches it
LOST = "lost"  # the worker died without a word (killed, lost node); counts as a failed attempt
ABORT = "abort"  # a run-level problem (e.g. the data set cannot be loaded): stop the sweep


@dataclass(frozen=True)
class Task:
    """One model to train: its samples row, its trainer (seed set) and the run folder."""

    task_id: str
    row: Mapping = field(repr=False)
    trainer: Trainer = field(repr=False)
    folder: RunFolder
    max_retries: int = 2
    heartbeat_s: float = 10.0


@dataclass(frozen=True)
class Outcome:
    """What became of one execution of a task."""

    task_id: str
    kind: str
    status: str = ""  # ok / diverged / failed, for kind == DONE
    reason: str = ""
    seconds: float = 0.0


def _now() -> str:
    """The current UTC time as an ISO string."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def failed_record(task: Task, reason: str) -> dict:
    """The final record of a model that failed every attempt (every result column, its recipe)."""
    recipe = {**task.trainer.recipe_columns(), "train_seed": task.trainer.seed, "reason": reason}
    return _complete_record(task, {**blank_result(), **recipe, "finished_at": _now()})


def _complete_record(task: Task, record: Mapping) -> dict:
    """A trainer's record completed with the sweep's own columns."""
    rec = {**dict(task.row), **dict(record), "task_id": task.task_id}
    rec.setdefault("train_seed", task.trainer.seed)
    rec.setdefault("status", "ok")
    rec.setdefault("reason", "")
    rec.setdefault("finished_at", _now())
    return rec


@contextlib.contextmanager
def _heartbeat(folder: RunFolder, task_id: str, every_s: float) -> Iterator[None]:
    """Touch the task's claim every ``every_s`` seconds while the model trains."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            folder.heartbeat(task_id)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _exception_line(exc: BaseException) -> str:
    """An exception as one line, with the place that raised it: ``Type: message (at f.py:12)``."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    msg = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {msg}{where}"


def count_failure(task: Task, reason: str, record: Mapping | None = None) -> Outcome:
    """Count a failed attempt of ``task``; record the model as failed once retries are spent."""
    n = task.folder.add_attempt(task.task_id, reason)
    if n <= task.max_retries:
        return Outcome(task.task_id, RETRY, "failed", reason)
    final = dict(record) if record is not None else failed_record(task, reason)
    final["reason"] = f"{reason} (after {n} attempts)"
    task.folder.write_record(task.task_id, final)
    return Outcome(task.task_id, DONE, "failed", final["reason"])


def use_threads(n: int) -> None:
    """Size torch's CPU thread pool to ``n`` where torch was imported before a worker set
    OMP_NUM_THREADS (its pool read the variable at import); without torch, nothing to do."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def execute(task: Task) -> Outcome:
    """Train ``task`` unless it is done or taken; write its record; report the outcome (ABORT if
    the run folder cannot be written: no model fails for a problem of the disk)."""
    t0 = time.time()
    try:
        outcome = _execute(task)
    except OSError as e:
        where, why = e.filename or task.folder.root, e.strerror or str(e)
        outcome = Outcome(task.task_id, ABORT, "", f"cannot write {where}: {why}")
    return Outcome(outcome.task_id, outcome.kind, outcome.status, outcome.reason, time.time() - t0)


def _execute(task: Task) -> Outcome:
    """The body of :func:`execute` (OS errors of the run folder propagate)."""
    folder, tid = task.folder, task.task_id
    status = folder.record_status(tid)
    if status:
        return Outcome(tid, DONE, status)
    if not folder.try_claim(tid, Owner.here()):
        return Outcome(tid, BUSY)
    try:
        status = folder.record_status(tid)
        if status:  # finished between our first look and the claim
            return Outcome(tid, DONE, status)
        with _heartbeat(folder, tid, task.heartbeat_s):
            try:
                record = _complete_record(task, task.trainer.train(task.row))
            except DataError as e:  # a run-level problem: stop the sweep
                return Outcome(tid, ABORT, "", str(e))
            except Exception as e:  # a model-level problem: retried
                return count_failure(task, _exception_line(e))
        if record["status"] == "failed":
            return count_failure(task, str(record.get("reason", "")), record)
        problem = record_problem(record)
        if problem:  # e.g. "ok" without an error: not a finished model
            return count_failure(task, f"the trainer's record is not final: {problem}")
        folder.write_record(tid, record)
        return Outcome(tid, DONE, str(record["status"]))
    finally:
        folder.release(tid)
