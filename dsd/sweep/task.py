"""One unit of a sweep: train one model, once, and leave exactly one record behind.

:func:`execute` is what every executor runs, wherever it runs (a local worker process, a Slurm
job, a Ray task). It is idempotent: a task that already has a record returns at once, a task
someone else is training is left alone ("busy"), and a failing model is retried through the
driver until ``max_retries`` is spent. The per-model work is a plain function
``work(row, config) -> record`` (default :func:`dsd.trainer.train_row`), so it can be swapped
for a trivial one in tests and benchmarks.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dsd.errors import DataError
from dsd.schema import blank_result
from dsd.sweep.store import Owner, RunStore

WorkFn = Callable[[Mapping, Any], Mapping]

# Outcome kinds an executor reports back to the driver.
DONE = "done"  # a final record exists (ok, diverged or failed for good)
RETRY = "retry"  # this attempt failed and was counted; run the task again
BUSY = "busy"  # another live worker holds the claim; the driver watches it
LOST = "lost"  # the worker died without a word (killed, lost node); counts as a failed attempt
ABORT = "abort"  # a run-level problem (e.g. the data set cannot be loaded): stop the sweep


def default_work(row: Mapping, config: Any) -> Mapping:
    """Train one samples row with :func:`dsd.trainer.train_row` (imported lazily)."""
    from dsd.trainer import train_row

    return train_row(row, config)


@dataclass(frozen=True)
class Task:
    """One model to train: its samples row, the training config and where to record it."""

    task_id: str
    row: Mapping = field(repr=False)
    config: Any = field(repr=False)
    run_dir: str = ""
    train_seed: int = 0
    max_retries: int = 2
    work: WorkFn = default_work
    heartbeat_s: float = 10.0
    stale_s: float = 60.0


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


def record_status(store: RunStore, task_id: str) -> str:
    """The status in the record of ``task_id`` ('' if it has no valid record: not finished)."""
    return str((store.read_record(task_id) or {}).get("status", ""))


def failed_record(task: Task, reason: str) -> dict:
    """The final record of a model that failed every attempt."""
    recipe = {}
    if hasattr(task.config, "recipe"):  # a TrainConfig: the failed model's recipe is known
        recipe = {
            "dataset": task.config.dataset,
            "epochs": task.config.epochs,
            **task.config.recipe(),
        }
    return {
        **dict(task.row),
        **blank_result(),
        **recipe,
        "task_id": task.task_id,
        "train_seed": task.train_seed,
        "status": "failed",
        "reason": reason,
        "finished_at": _now(),
    }


def _finish(task: Task, record: Mapping) -> dict:
    """Complete a work function's record with the sweep's own columns."""
    rec = {**dict(task.row), **dict(record)}
    rec["task_id"] = task.task_id
    rec.setdefault("train_seed", task.train_seed)
    rec.setdefault("status", "ok")
    rec.setdefault("reason", "")
    rec.setdefault("finished_at", _now())
    return rec


class _Heartbeat:
    """Touches a task's claim every few seconds while the model trains."""

    def __init__(self, store: RunStore, task_id: str, every_s: float):
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(store, task_id, every_s), daemon=True
        )

    def _beat(self, store: RunStore, task_id: str, every_s: float) -> None:
        """Refresh the claim until stopped."""
        while not self._stop.wait(every_s):
            store.heartbeat(task_id)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _reason(exc: BaseException) -> str:
    """A one-line reason for an exception, with the line that raised it."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    msg = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {msg}{where}"


def _failure(
    store: RunStore, task: Task, reason: str, t0: float, record: Mapping | None = None
) -> Outcome:
    """Count a failed attempt; record the model as failed once retries are spent."""
    n = store.add_attempt(task.task_id, reason)
    if n > task.max_retries:
        final = dict(record) if record is not None else failed_record(task, reason)
        final["reason"] = f"{reason} (after {n} attempts)"
        store.write_record(task.task_id, final)
        return Outcome(task.task_id, DONE, "failed", reason, time.time() - t0)
    return Outcome(task.task_id, RETRY, "failed", reason, time.time() - t0)


def execute(task: Task) -> Outcome:
    """Train ``task`` unless it is done or taken; write its record; report the outcome.

    A run directory that cannot be written (full disk, removed, read-only) stops the whole run
    (ABORT): no model is recorded as failed for a problem of the disk, and a resume trains it.
    """
    t0 = time.time()
    try:
        return _execute(task, t0)
    except OSError as e:
        where = e.filename or task.run_dir
        why = e.strerror or str(e)
        return Outcome(task.task_id, ABORT, "", f"cannot write {where}: {why}", time.time() - t0)


def _execute(task: Task, t0: float) -> Outcome:
    """The body of :func:`execute` (OS errors of the store propagate)."""
    store = RunStore(Path(task.run_dir), task.stale_s)
    status = record_status(store, task.task_id)
    if status:
        return Outcome(task.task_id, DONE, status)
    if not store.try_claim(task.task_id, Owner.here()):
        return Outcome(task.task_id, BUSY)
    status = record_status(store, task.task_id)
    if status:  # finished between our first look and the claim
        store.release(task.task_id)
        return Outcome(task.task_id, DONE, status)
    try:
        with _Heartbeat(store, task.task_id, task.heartbeat_s):
            try:
                record = _finish(task, task.work(task.row, task.config))
            except DataError as e:  # a run-level problem: stop the sweep
                return Outcome(task.task_id, ABORT, "", str(e), time.time() - t0)
            except Exception as e:  # a model-level problem: retried
                return _failure(store, task, _reason(e), t0)
        if record["status"] == "failed":
            return _failure(store, task, str(record.get("reason", "")), t0, record)
        store.write_record(task.task_id, record)
        return Outcome(task.task_id, DONE, str(record["status"]), "", time.time() - t0)
    finally:
        store.release(task.task_id)
