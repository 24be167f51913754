"""The sweep's one door: :func:`run_sweep` trains every (model, training seed) of a samples table
into a run folder, under its lock, and collects the records; everything that can refuse the run
is checked before the folder is created, and a killed run resumes with what is missing."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from dsd.errors import DataError, DsdError
from dsd.io import plain
from dsd.schema import record_problem
from dsd.sweep.dispatch import drive
from dsd.sweep.exec_local import LocalExecutor, usable_gpus, worker_envs
from dsd.sweep.executors import Executor, ExecutorSettings, check_available
from dsd.sweep.folder import RunFolder
from dsd.sweep.status import duration
from dsd.sweep.task import Task, Trainer

if TYPE_CHECKING:  # the experiment and estimate modules import torch: workers need neither
    from dsd.sweep.estimate import CostEstimate
    from dsd.sweep.experiment import Experiment

#: Characters of a space name kept in a task id (a longer name keeps a prefix and a hash).
MAX_SPACE_CHARS = 64


@dataclass(frozen=True)
class SweepStart:
    """What a sweep is about to do, once its checks passed and its folder exists."""

    folder: RunFolder
    total: int  # tasks of the run
    done: int  # tasks finished before this call
    todo: int  # tasks this call trains
    where: str  # the executor's devices and workers
    workers: int
    estimate: CostEstimate | None = None

    def describe(self) -> str:
        """``12 of 60 models to train (48 done) with 2 workers ...; estimated 1m 30s``."""
        line = f"{self.todo} of {self.total} models to train ({self.done} done) with {self.where}"
        if self.estimate is not None:
            line += f"; estimated {duration(self.estimate.seconds_for(self.todo))}"
        return line


@dataclass(frozen=True)
class SweepOptions:
    """Everything a sweep needs besides its samples and its folder."""

    trainer: Trainer
    seeds: tuple[int, ...] = (0,)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    engine: Executor | None = None  # made (and closed) by the caller, in place of ``executor``'s
    progress: bool = True
    retry_failed: bool = False
    limit: int | None = None  # train at most this many of the tasks without a record
    experiment: Experiment | None = None  # stored in a new folder; a resume must match it
    adopt: Mapping[str, Mapping] = field(default_factory=dict)  # task id -> record trained before
    resume: str = ""  # the command that resumes the run (``dsd status`` shows it)
    estimate: CostEstimate | None = None
    on_start: Callable[[SweepStart], None] | None = None  # told once the folder exists
    poll_s: float = 1.0


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep left behind: counts by status, and the results file."""

    folder: RunFolder
    total: int
    counts: dict[str, int]
    trained: int  # outcomes this call produced (0 if everything was already done)
    seconds: float
    results: Path | None
    where: str = ""

    def describe(self) -> str:
        """What finished and where the results are."""
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "none"
        done = sum(self.counts.values())
        lines = [
            f"{self.folder.root}: {done}/{self.total} models done ({counts})",
            f"  trained now: {self.trained} in {self.seconds:.1f}s",
        ]
        if self.results:
            lines.append(f"  results: {self.results}")
        return "\n".join(lines)


# -- the task list ---------------------------------------------------------------------------
def _space_part(name: object) -> str:
    """A space name as the start of a file name: safe characters, no leading dot, bounded."""
    text = str(name)
    base = Path(text).stem if "/" in text else text
    safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", base)
    safe = "_" + safe[1:] if safe.startswith(".") else safe
    if len(safe) <= MAX_SPACE_CHARS:
        return safe
    return f"{safe[: MAX_SPACE_CHARS - 9]}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def task_ids(samples: pd.DataFrame, seeds: Sequence[int]) -> list[str]:
    """Stable task ids, seed-major: ``<space>-<index in space>-<model_id[:8]>-s<seed>``."""
    for column in ("space", "model_id"):
        odd = samples[column].map(lambda v: not isinstance(v, str) or not v)
        if odd.any():
            value = samples[column][odd].iloc[0]
            raise DataError(f"samples table: {column} holds {value!r}, not a name"[:300])
    index = samples.groupby("space", sort=False).cumcount()
    spaces = {s: _space_part(s) for s in samples["space"].unique()}
    base = [
        f"{spaces[s]}-{i:04d}-{re.sub(r'[^A-Za-z0-9]', '_', str(m))[:8]}"
        for s, i, m in zip(samples["space"], index, samples["model_id"], strict=True)
    ]
    ids = [f"{b}-s{seed}" for seed in seeds for b in base]
    if len(set(ids)) != len(ids):
        twin = next(t for t, n in Counter(ids).items() if n > 1)
        raise DsdError(f"two spaces give the same task id {twin!r}; give them distinct names")
    return ids


def _planned(samples: pd.DataFrame, seeds: Sequence[int]) -> tuple[pd.DataFrame, list[str]]:
    """The samples (index reset) and their task ids; DataError for a table that cannot be run."""
    missing = [c for c in ("space", "model_id") if c not in samples.columns]
    if missing:
        raise DataError(f"samples table needs the columns 'space' and 'model_id' ({missing})")
    if samples.empty:
        raise DataError("samples table: no models")
    samples = samples.reset_index(drop=True)
    return samples, task_ids(samples, seeds)


def _stored_tasks(folder: RunFolder, ids: list[str], seeds: Sequence[int]) -> list[str] | None:
    """The folder's task list if it is this sweep's; None if it has none (or a damaged one that
    its samples rebuild); DsdError if it holds another sweep."""
    try:
        stored = folder.read_task_list()
    except DsdError:
        try:
            rebuilt = task_ids(folder.read_samples(), seeds) if folder.samples.exists() else None
        except DsdError:
            rebuilt = None
        if rebuilt != ids:
            raise
        return None
    if stored is not None and stored != ids:
        gone = "" if folder.samples.exists() else " (and its samples.parquet is missing)"
        raise DsdError(
            f"{folder.root} holds another sweep ({len(stored)} tasks, not these {len(ids)})"
            f"{gone}; use a new run directory"
        )
    return stored


def _check_experiment(folder: RunFolder, exp: Experiment) -> None:
    """DsdError if the folder was started with an experiment of another fingerprint."""
    old = folder.stored_experiment()
    if old is None:
        return
    new, old = plain(exp.fingerprint()), old["fingerprint"]
    changed = sorted(k for k in set(new) | set(old) if new.get(k) != old.get(k))
    if changed:
        raise DsdError(
            f"{folder.root} was started with another experiment (differs in: "
            f"{', '.join(changed)}); use a new run directory, or restore the experiment to resume"
        )


# -- executors ---------------------------------------------------------------------------------
def make_executor(settings: ExecutorSettings, folder: RunFolder, device: str = "auto") -> Executor:
    """The executor ``settings.kind`` describes for a trainer asking for ``device``."""
    check_available(settings)
    if settings.kind == "local":
        return LocalExecutor(settings, device)
    if settings.kind == "slurm":
        from dsd.sweep.exec_slurm import SlurmExecutor  # lazy: submitit is optional

        return SlurmExecutor(settings, folder)
    from dsd.sweep.exec_ray import RayExecutor  # lazy: ray is optional

    return RayExecutor(settings)


# -- the sweep -----------------------------------------------------------------------------------
def run_sweep(
    samples: pd.DataFrame, folder: RunFolder | str | Path, options: SweepOptions
) -> SweepSummary:
    """Train every row of ``samples`` once per seed into ``folder``; resume if it exists."""
    t0 = time.time()
    folder, samples, ids = _checked(samples, folder, options)
    engine = options.engine or make_executor(options.executor, folder, options.trainer.device)
    try:
        folder.create()
        with folder.lock():
            return _run_locked(samples, ids, folder, engine, options, t0)
    except OSError as e:  # a full disk, a folder removed under us: one line, records intact
        hint = " (free some space and run again to resume)" if e.errno == errno.ENOSPC else ""
        where = e.filename or folder.root
        raise DsdError(f"cannot write {where}: {e.strerror or e}{hint}") from None
    finally:
        if options.engine is None:
            engine.close()


def check_sweep(
    samples: pd.DataFrame, folder: RunFolder | str | Path, options: SweepOptions
) -> None:
    """Every check :func:`run_sweep` makes before it creates anything (DsdError: the first)."""
    _checked(samples, folder, options)


def _checked(
    samples: pd.DataFrame, folder: RunFolder | str | Path, options: SweepOptions
) -> tuple[RunFolder, pd.DataFrame, list[str]]:
    """The checks of :func:`check_sweep`; the folder, the samples (index reset), the task ids."""
    folder = RunFolder.at(folder, options.executor.stale_s)
    samples, ids = _planned(samples, options.seeds)
    folder.check_path()
    done = set(options.adopt)
    if folder.root.is_dir():  # read-only checks of an existing folder
        if options.experiment is not None:
            _check_experiment(folder, options.experiment)
        _stored_tasks(folder, ids, options.seeds)
        done |= folder.done_ids() & set(ids)
    if options.engine is None:  # the executor runs here, the GPUs asked for are there
        check_available(options.executor)
        if options.executor.kind == "local":
            worker_envs(options.executor, options.trainer.device, usable_gpus())
    row_of = dict(zip(ids, samples.to_dict(orient="records") * len(options.seeds), strict=True))
    options.trainer.check([row_of[t] for t in ids if t not in done][: options.limit])
    return folder, samples, ids


def _run_locked(samples, ids, folder: RunFolder, engine: Executor, options, t0) -> SweepSummary:
    """The body of :func:`run_sweep`, with the folder created and its lock held."""
    samples = _settle(folder, samples, ids, options)
    _write_info(folder, engine, options)
    settings = options.executor
    folder.sweep_temp(older_than_s=settings.stale_s)  # left by writers killed mid-write
    folder.set_aside_damaged(ids)  # retrain them rather than lose them
    for tid, record in options.adopt.items():
        if tid in ids and folder.read_record(tid) is None and not record_problem(record):
            folder.write_record(tid, {**plain(record), "task_id": tid})
    tasks = make_tasks(samples, ids, folder, options)
    if options.retry_failed:
        for t in ids:
            if folder.record_status(t) == "failed":
                folder.remove_record(t)
    done = folder.done_ids() & set(ids)
    todo = [t for t in ids if t not in done][: options.limit]
    if options.on_start is not None:
        where, n, estimate = engine.describe(), engine.slots, options.estimate
        options.on_start(SweepStart(folder, len(ids), len(done), len(todo), where, n, estimate))
    progress, poll_s = options.progress, options.poll_s
    trained = drive(folder, tasks, todo, engine, done=len(done), progress=progress, poll_s=poll_s)
    results = folder.collect(ids)
    counts = dict(Counter(results["status"])) if len(results) else {}
    return SweepSummary(
        folder=folder,
        total=len(ids),
        counts=counts,
        trained=trained,
        seconds=time.time() - t0,
        results=folder.results if len(results) else None,
        where=engine.describe(),
    )


def _settle(folder: RunFolder, samples, ids, options: SweepOptions) -> pd.DataFrame:
    """Make the folder hold this sweep (checked again under the lock); return its samples: the
    stored ones when the folder has them, else the given ones, stored with the task list."""
    exp = options.experiment
    if exp is not None:
        _check_experiment(folder, exp)
        if folder.stored_experiment() is None:
            doc = {
                "name": exp.name,
                "source": exp.path,
                "fingerprint": plain(exp.fingerprint()),
                "executor": plain(asdict(exp.executor)),
            }
            folder.write_experiment(doc)
    if _stored_tasks(folder, ids, options.seeds) is None:
        if folder.has_task_list():
            print(
                f"dsd: warning: the task list of {folder.root} was damaged; rebuilt",
                file=sys.stderr,
            )
        folder.write_samples(samples)
        folder.write_task_list(ids)
        return samples
    if not folder.task_list.exists():  # a folder of dsd < 0.2: its task list is plan.json
        folder.write_task_list(ids)
    try:
        return folder.read_samples()
    except DataError:  # missing or damaged: the given samples give this task list, store them
        why = "damaged" if folder.samples.exists() else "missing"
        print(f"dsd: warning: {folder.samples} was {why}; written again", file=sys.stderr)
        folder.write_samples(samples)
        return samples


def _write_info(folder: RunFolder, engine: Executor, options: SweepOptions) -> None:
    """Store what ``dsd status`` shows: how to resume, where the latest driver trains."""
    old = folder.read_info()
    folder.write_info(
        {
            "resume": options.resume or old.get("resume", ""),
            "executor": options.executor.kind,
            "where": engine.describe(),
            "workers": engine.slots,
            "device": options.trainer.device,
            "driver": f"pid {os.getpid()} on {socket.gethostname()}",
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    )


def make_tasks(
    samples: pd.DataFrame, ids: Sequence[str], folder: RunFolder, options: SweepOptions
) -> list[Task]:
    """One task per (model, training seed), seed-major as the task ids."""
    rows = [plain(r) for r in samples.to_dict(orient="records")]
    settings = options.executor
    trainers = [options.trainer.with_seed(int(seed)) for seed in options.seeds]
    pairs = [(trainer, row) for trainer in trainers for row in rows]
    return [
        Task(tid, row, trainer, folder, settings.max_retries, settings.heartbeat_s)
        for tid, (trainer, row) in zip(ids, pairs, strict=True)
    ]


def collect(folder: RunFolder | str | Path) -> pd.DataFrame:
    """All records of a run in task-list order, written to its ``results.parquet``."""
    folder = RunFolder.at(folder)
    ids = folder.read_task_list()
    if ids is None:
        raise DsdError(f"{folder.root}: not a dsd run directory (no {folder.task_list.name})")
    return folder.collect(ids)
