"""The sweep driver: turn a samples table into tasks, run them on an executor, collect results.

The driver holds the run directory's lock (a second driver is refused), submits every task that
has no record yet, retries failed attempts up to ``max_retries`` (diverged models are final), waits
for models that a previous driver's jobs are still training (live claims), and finally collects
all records into ``results.parquet``. Killing it at any moment and starting it again trains only
what is missing: finished models are on disk as records, everything else is retrained.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dsd.errors import DataError, DsdError
from dsd.io import read_table, write_table
from dsd.sweep.executors import Executor, ExecutorSettings, make_executor
from dsd.sweep.store import (
    RESULTS,
    SAMPLES,
    RunLock,
    RunStore,
    iter_records,
    plain,
    read_json,
    write_json_atomic,
)
from dsd.sweep.task import (
    ABORT,
    BUSY,
    DONE,
    LOST,
    RETRY,
    Outcome,
    Task,
    WorkFn,
    default_work,
    failed_record,
    record_status,
)

PLAN = "plan.json"
DEFAULT_SETTINGS = ExecutorSettings()


#: Writes a run's report from its collected results: ``(results, run_dir) -> path or None``.
ReportFn = Callable[[pd.DataFrame, Path], "Path | None"]


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep left behind: counts by status and the files it wrote."""

    run_dir: Path
    total: int
    counts: dict[str, int]
    trained: int  # outcomes this call produced (0 if everything was already done)
    seconds: float
    results: Path | None
    report: Path | None

    def describe(self) -> str:
        """A few lines for the terminal: what finished and where the outputs are."""
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "none"
        lines = [f"{self.run_dir}: {sum(self.counts.values())}/{self.total} models done ({counts})"]
        lines.append(f"  trained now: {self.trained} in {self.seconds:.1f}s")
        if self.results:
            lines.append(f"  results: {self.results}")
        if self.report:
            lines.append(f"  report:  {self.report}")
        return "\n".join(lines)


def _safe(name: str) -> str:
    """A space name made safe for file names (a path to a YAML file becomes its stem)."""
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", Path(str(name)).stem if "/" in str(name) else str(name))


def task_ids(samples: pd.DataFrame, seeds: Sequence[int]) -> list[str]:
    """Stable task ids: ``<space>-<index in space>-<model_id[:8]>-s<seed>``, seed-major."""
    index = samples.groupby("space", sort=False).cumcount()
    base = [
        f"{_safe(s)}-{i:04d}-{str(m)[:8]}"
        for s, i, m in zip(samples["space"], index, samples["model_id"], strict=True)
    ]
    return [f"{b}-s{seed}" for seed in seeds for b in base]


def with_seed(config: Any, seed: int) -> Any:
    """``config`` with its training seed set (dataclasses with a ``seed`` field; others as is)."""
    names = [f.name for f in dataclasses.fields(config)] if dataclasses.is_dataclass(config) else []
    if "seed" in names:
        return dataclasses.replace(config, seed=seed)
    return config


def make_tasks(
    samples: pd.DataFrame,
    config: Any,
    run_dir: Path,
    *,
    seeds: Sequence[int] = (0,),
    settings: ExecutorSettings = DEFAULT_SETTINGS,
    work: WorkFn = default_work,
) -> list[Task]:
    """One task per (model, training seed)."""
    rows = [plain(r) for r in samples.to_dict(orient="records")]
    ids = iter(task_ids(samples, seeds))
    return [
        Task(
            task_id=next(ids),
            row=row,
            config=with_seed(config, seed),
            run_dir=str(run_dir),
            train_seed=int(seed),
            max_retries=settings.max_retries,
            work=work,
            heartbeat_s=settings.heartbeat_s,
            stale_s=settings.stale_s,
        )
        for seed in seeds
        for row in rows
    ]


class _Progress:
    """A progress bar (tqdm on a terminal) with the counts by status."""

    def __init__(self, total: int, done: int, enabled: bool):
        from tqdm import tqdm

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


def _handle_lost(store: RunStore, task: Task, outcome: Outcome) -> Outcome:
    """Count a vanished attempt; the model fails for good once retries are spent."""
    status = record_status(store, task.task_id)
    if status:  # it died after writing its record
        return Outcome(task.task_id, DONE, status)
    store.release(task.task_id)  # its owner is known dead
    n = store.add_attempt(task.task_id, outcome.reason)
    if n > task.max_retries:
        reason = f"{outcome.reason} (after {n} attempts)"
        store.write_record(task.task_id, failed_record(task, reason))
        return Outcome(task.task_id, DONE, "failed", reason)
    return Outcome(task.task_id, RETRY, "", outcome.reason)


class _Loop:
    """The driver's bookkeeping: tasks handed to the executor, and tasks others are training."""

    def __init__(self, store: RunStore, tasks: Sequence[Task], executor: Executor, bar: _Progress):
        self.store, self.executor, self.bar = store, executor, bar
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
            o = _handle_lost(self.store, self.by_id[o.task_id], o)
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
            status = record_status(self.store, tid)
            if status:
                self.watch.discard(tid)
                self.bar.finished(status)
            elif not self.store.claim_is_live(tid):
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
    store: RunStore,
    tasks: Sequence[Task],
    executor: Executor,
    *,
    progress: bool = True,
    poll_s: float = 1.0,
    limit: int | None = None,
) -> int:
    """Run every task without a record (at most ``limit`` of them, in order) to completion;
    return how many outcomes arrived."""
    done = store.done_ids()
    todo = [t.task_id for t in tasks if t.task_id not in done]
    finished = len(tasks) - len(todo)
    if limit is not None:
        todo = todo[:limit]
    bar = _Progress(finished + len(todo), finished, progress)
    loop = _Loop(store, tasks, executor, bar)
    live = store.live_claims()
    loop.watch = {t for t in todo if t in live}
    try:
        loop.submit([t for t in todo if t not in loop.watch])
        loop.run(poll_s)
    finally:
        bar.close()
    return loop.outcomes


def read_plan(run_dir: Path) -> list[str] | None:
    """The task ids of ``RUN_DIR/plan.json``; None if there is none; DsdError if it is damaged."""
    path = run_dir / PLAN
    if not path.exists():
        return None
    plan = read_json(path)
    tasks = plan.get("tasks") if plan is not None else None
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        raise DsdError(
            f"{path} is damaged (not a JSON object with a list of task ids); `dsd run` with the "
            "same experiment rebuilds it from samples.parquet"
        )
    return tasks


def collect(run_dir: str | Path) -> pd.DataFrame:
    """All records of a run, in plan order, written to ``RUN_DIR/results.parquet`` (idempotent)."""
    run_dir = Path(run_dir)
    tasks = read_plan(run_dir)
    if tasks is None:
        raise DsdError(f"{run_dir}: not a dsd run directory (no {PLAN})")
    records = list(iter_records(RunStore(run_dir.resolve()), tasks))
    df = pd.DataFrame.from_records(records)
    if len(df):
        write_table(df, run_dir / RESULTS)
    return df


def _check_plan(run_dir: Path, samples: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """Write the plan of a new run, or check a resumed run's plan is the same; return samples.

    A damaged plan is rebuilt when the run's samples file is intact and gives these same tasks
    (the plan is derived from the samples and seeds); otherwise the run is refused.
    """
    try:
        tasks = read_plan(run_dir)
    except DsdError:
        if not (run_dir / SAMPLES).exists() or not _same_samples(run_dir, samples):
            raise
        print(
            f"dsd: warning: {run_dir / PLAN} was damaged; rebuilt from the samples", file=sys.stderr
        )
        tasks = None
    if tasks is None:
        write_table(samples, run_dir / SAMPLES)
        write_json_atomic(run_dir / PLAN, {"tasks": ids})
        return samples
    if tasks != ids:
        raise DsdError(
            f"{run_dir} holds another sweep ({len(tasks)} tasks, not these {len(ids)}); "
            "use a new run directory"
        )
    return read_table(run_dir / SAMPLES)


def _same_samples(run_dir: Path, samples: pd.DataFrame) -> bool:
    """Whether RUN_DIR/samples.parquet holds the models of ``samples`` (same ids, same order)."""
    try:
        old = read_table(run_dir / SAMPLES, required=("model_id", "space"))
    except DsdError:
        return False
    cols = ["space", "model_id"]
    return old[cols].astype(str).equals(samples[cols].reset_index(drop=True).astype(str))


def run_samples(
    samples: pd.DataFrame,
    run_dir: str | Path,
    config: Any,
    *,
    seeds: Sequence[int] = (0,),
    settings: ExecutorSettings = DEFAULT_SETTINGS,
    work: WorkFn = default_work,
    progress: bool = True,
    report: ReportFn | None = None,
    retry_failed: bool = False,
    executor: Executor | None = None,
    limit: int | None = None,
) -> SweepSummary:
    """Train every row of ``samples`` once per seed into ``run_dir``; resume if it exists.

    ``limit`` trains at most that many of the tasks still without a record (the plan is still
    every task, so a later call with a larger limit, or none, continues the same run).

    ``report``, if given, is called with the collected results and ``run_dir`` once every model
    is done and returns the report's path (the sweep knows nothing of analysis; ``dsd run`` passes
    :func:`dsd.pipeline.write_run_report`).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir):
        return run_locked(
            samples,
            run_dir,
            config,
            seeds=seeds,
            settings=settings,
            work=work,
            progress=progress,
            report=report,
            retry_failed=retry_failed,
            executor=executor,
            limit=limit,
        )


def run_locked(
    samples: pd.DataFrame,
    run_dir: Path,
    config: Any,
    *,
    seeds: Sequence[int],
    settings: ExecutorSettings,
    work: WorkFn,
    progress: bool,
    report: ReportFn | None,
    retry_failed: bool,
    executor: Executor | None,
    limit: int | None = None,
) -> SweepSummary:
    """The body of :func:`run_samples`, with the run directory's lock held."""
    t0 = time.time()
    if "space" not in samples.columns or "model_id" not in samples.columns:
        raise DataError("samples table needs the columns 'space' and 'model_id'")
    _check_plan(run_dir, samples, task_ids(samples, seeds))
    store = RunStore.open(run_dir, settings.stale_s)
    store.sweep_temp(older_than_s=settings.stale_s)  # left by writers killed mid-write
    store.set_aside_damaged(task_ids(samples, seeds))  # retrain them rather than lose them
    tasks = make_tasks(samples, config, store.root, seeds=seeds, settings=settings, work=work)
    if retry_failed:
        for t in tasks:
            if (store.read_record(t.task_id) or {}).get("status") == "failed":
                store.remove_record(t.task_id)
    own = executor is None
    executor = executor or make_executor(settings, store.root)
    try:
        trained = drive(store, tasks, executor, progress=progress, limit=limit)
    finally:
        if own:
            executor.close()
    results = collect(run_dir)
    counts = Counter(results["status"]) if len(results) else Counter()
    html = report(results, run_dir) if report and len(results) else None
    return SweepSummary(
        run_dir=run_dir,
        total=len(tasks),
        counts=dict(counts),
        trained=trained,
        seconds=time.time() - t0,
        results=run_dir / RESULTS if len(results) else None,
        report=html,
    )
