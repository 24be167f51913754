"""``dsd train``'s work: a one-worker sweep of a samples file into one results file, resumable.

The run folder is ``OUT.run/`` beside the output; ``OUT`` is written atomically from the records
once, at the end (also after Ctrl-C or a run-level error). Rows are identified by (``space``,
``design_id``) when the samples have a design id, else by ``model_id`` (docs/GLOSSARY.md).
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import torch

from dsd.errors import DataError, DsdError
from dsd.io import (
    check_not_an_input,
    check_output_path,
    exclusive,
    is_list,
    plain,
    read_table,
    write_table,
)
from dsd.schema import SAMPLE_REQUIRED, record_problem
from dsd.sweep.driver import SweepOptions, run_sweep, task_ids
from dsd.sweep.exec_local import LocalExecutor
from dsd.sweep.executors import ExecutorSettings
from dsd.sweep.folder import RunFolder
from dsd.sweep.task import Trainer

RUN_SUFFIX = ".run"
#: A model may train this long before its worker is stopped (a week: ``dsd train`` has no limit).
TIME_MIN = 7 * 24 * 60.0
#: ``space`` given to the rows of a samples file without that column (task ids need one).
NO_SPACE = "samples"
KEPT_TASK = "_task"  # the task of a row of an older OUT, while it waits to be written again


def run_folder_for(out: str | Path) -> RunFolder:
    """The run folder of the results file ``out``: ``OUT.run`` beside it."""
    out = Path(out)
    return RunFolder(out.with_name(out.name + RUN_SUFFIX))


@dataclass(frozen=True)
class TrainSummary:
    """What one ``dsd train`` call did: statuses of the models it trained, models it skipped."""

    trained: dict[str, int]
    skipped: int
    results: Path

    def describe(self) -> str:
        """The line printed at the end."""
        n = sum(self.trained.values())
        counts = ", ".join(
            f"{self.trained[s]} {s}" for s in ("ok", "diverged", "failed") if self.trained.get(s)
        )
        return (
            f"trained {n} model(s) ({counts or 'none'}); "
            f"skipped {self.skipped} already in {self.results}"
        )


def _keys(table: pd.DataFrame, columns: list[str]) -> pd.Series:
    """The identity of each row: (space, design_id) or model_id, as text."""
    keys = table[columns[0]].astype(str)
    for column in columns[1:]:
        keys = keys + "\0" + table[column].astype(str)
    return keys


def _identity(samples: pd.DataFrame, previous: pd.DataFrame | None) -> list[str]:
    """The columns that identify a row: space and design id where both tables have them."""
    have = set(samples.columns) & (set(previous.columns) if previous is not None else set(samples))
    return ["space", "design_id"] if {"space", "design_id"} <= have else ["model_id"]


def planned(samples: pd.DataFrame) -> pd.DataFrame:
    """The rows to train: the first of each identity (:func:`_identity`), with a ``space``."""
    if "space" not in samples.columns:
        samples = samples.assign(space=NO_SPACE)
    keys = _keys(samples, _identity(samples, None))
    return samples[~keys.duplicated()].reset_index(drop=True)


def train_file(samples: str | Path, out: str | Path, options: SweepOptions) -> TrainSummary:
    """``dsd train SAMPLES -o OUT``: :func:`train_samples` under ``out``'s writer lock."""
    out = check_not_an_input(check_output_path(out), [samples])
    table = read_table(samples, required=SAMPLE_REQUIRED)
    if table.empty:
        raise DsdError(f"{samples}: no models in the samples file")
    with exclusive(out, "dsd train"):
        return train_samples(table, out, options)


def train_samples(samples: pd.DataFrame, out: str | Path, options: SweepOptions) -> TrainSummary:
    """Train the models of ``samples`` not yet recorded for ``out``, then write ``out`` (the
    caller holds its writer lock); one local worker that sees this process's devices, one
    attempt a model."""
    out = Path(out)
    samples, folder = planned(samples), run_folder_for(out)
    previous = _previous(out)
    try:
        stored = folder.read_task_list()
    except DsdError:  # damaged: the sweep rebuilds it if the run's samples are these, else refuses
        stored = None
    records = list(folder.iter_records(stored)) if stored else []
    for table in (previous, pd.DataFrame.from_records(records) if records else None):
        if table is not None:
            _check_same_recipe(table, options.trainer, out)
    ids = task_ids(samples, options.seeds)
    if stored is not None and stored != ids:
        raise DsdError(
            f"{out} belongs to a run of another samples file ({folder.root}: {len(stored)} "
            f"models, not these {len(ids)}); use another output file"
        )
    adopt, kept = _adoption(samples, ids, previous)
    before = (folder.done_ids() & set(ids)) | set(adopt)
    settings = ExecutorSettings(kind="local", slots=1, max_retries=0, time_min=TIME_MIN)
    threads = str(torch.get_num_threads())
    env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    engine = LocalExecutor(settings, options.trainer.device, envs=[env])
    options = replace(options, executor=settings, engine=engine, adopt=adopt)
    try:
        with engine:
            summary = run_sweep(samples, folder, options)
    except BaseException:  # Ctrl-C, a run-level error: OUT gets what was trained too
        with contextlib.suppress(Exception):
            _write_results(folder, out, kept)
        raise
    # run_sweep collected the records into RUN/results.parquet: read that one file back.
    collected = read_table(summary.results) if summary.results else pd.DataFrame()
    results = _write_results(folder, out, kept, collected)
    new = results[~results["task_id"].isin(before)] if len(results) else results
    trained = Counter(new["status"]) if len(new) else Counter()
    return TrainSummary(trained=dict(trained), skipped=len(before), results=out)


def _previous(out: Path) -> pd.DataFrame | None:
    """The rows of an existing results file ``out``; DataError if its model ids are not text."""
    if not out.exists():
        return None
    previous = read_table(out, required=("model_id", "status"))
    if not previous["model_id"].map(lambda m: isinstance(m, str) and bool(m)).all():
        raise DataError(
            f"{out}: model_id holds values that are not model ids; is this a dsd results file?"
        )
    return previous


def _adoption(
    samples: pd.DataFrame, ids: list[str], previous: pd.DataFrame | None
) -> tuple[dict[str, dict], pd.DataFrame | None]:
    """The final rows of ``previous`` (an existing OUT) for planned models, as records to adopt
    by task id, and its other rows with their task id ('' for other models), which OUT keeps
    while their task has no record."""
    if previous is None:
        return {}, None
    columns = _identity(samples, previous)
    task_of: dict[str, str] = {}
    for key, task in zip(_keys(samples, columns), ids, strict=False):
        task_of.setdefault(key, task)
    tasks = _keys(previous, columns).map(lambda key: task_of.get(key, ""))
    adopt: dict[str, dict] = {}
    for task, row in zip(tasks, previous.to_dict(orient="records"), strict=True):
        if task and not record_problem(row):
            adopt.setdefault(task, plain(row))
    kept = ~tasks.isin(adopt.keys())
    return adopt, previous[kept].assign(**{KEPT_TASK: tasks[kept]}) if kept.any() else None


def _write_results(folder: RunFolder, out: Path, kept, results=None) -> pd.DataFrame:
    """The run's records (collected now unless given), with OUT's kept rows, written to OUT."""
    if results is None:
        ids = folder.read_task_list()
        if ids is None:
            return pd.DataFrame()
        results = folder.collect(ids)
    both = results
    if kept is not None:
        done = set(results["task_id"]) if len(results) else set()
        kept = kept[~kept[KEPT_TASK].isin(done)].drop(columns=KEPT_TASK)
        both = pd.concat([results, kept], ignore_index=True)
    if len(both):
        write_table(both, out)
    return results


def _same_value(have: object, want: object) -> bool:
    """Whether a recipe value read from a table is the one asked for (floats to rounding)."""
    if is_list(have):
        return False
    if isinstance(want, float) and not isinstance(want, bool):
        try:
            return math.isclose(float(have), want, rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return bool(have == want)


def _check_same_recipe(previous: pd.DataFrame, trainer: Trainer, out: Path) -> None:
    """Refuse to resume into results trained with another recipe (a run must be fair)."""
    expected = {**trainer.recipe_columns(), "train_seed": trainer.seed}
    for key, want in expected.items():
        if key not in previous.columns:
            continue
        for have in previous[key].dropna():
            if not _same_value(have, want):
                raise DsdError(
                    f"{out} holds results trained with {key}={have}, this run asks {key}={want}; "
                    "use another output file (every model of one run gets the same recipe)"
                )
