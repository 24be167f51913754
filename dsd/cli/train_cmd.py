"""``dsd train``: train every model of a samples file briefly, one result record per model.

``dsd train S -o OUT`` is a one-slot run of the sweep machinery (:mod:`dsd.sweep.driver` with one
local worker process). Its run folder is ``OUT.run/`` beside the output (``results.parquet`` ->
``results.parquet.run/``), laid out as :mod:`dsd.sweep.store` describes: the plan, one
``records/<task>.json`` per finished model, claims and attempts; ``dsd status OUT.run`` reads it.
Each model's record is written the moment it finishes; the results table ``OUT`` is written
atomically from the collected records once, at the end (also after Ctrl-C or a run-level error),
so the I/O grows linearly with the number of models. A run killed at any moment (even by SIGKILL)
loses at most the model in flight: started again with the same output, models already recorded
(in ``OUT.run/`` or, for a results file written without a run folder, in ``OUT`` itself, by
``model_id`` whatever their status) are skipped and ``OUT`` is written again. A different recipe,
or another samples file, is refused. Bad input (samples file, data path, class count, dataset
name, recipe value) is reported in one line before anything is trained or written. A failed
model is not retried (one attempt each); a worker process that dies counts as a failed model.
"""

from __future__ import annotations

import argparse
import contextlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dsd.cli import ExampleFormatter
from dsd.schema import SAMPLE_REQUIRED

EPILOG = """\
examples:
  dsd sample --space AnyNetXA --n 32 --resolution 32 --classes 10 --flops 1e6:4e6 -o s.parquet
  dsd train s.parquet --dataset digits --epochs 3 -o results.parquet
  dsd train s.parquet --dataset cifar10 --data ~/data/cifar-10-batches-py --epochs 10 -o results.parquet
  dsd train s.parquet --dataset imagefolder --data ~/data/imagenet --epochs 10 -o results.parquet

Every model gets the same recipe: SGD (momentum 0.9, Nesterov), batch 128, lr 0.05 * batch / 128,
weight decay 5e-5, half-period cosine per step, the last BN of each residual branch at zero.
digits is small (1347 training images: 10 steps an epoch at batch 128), so its defaults are
batch 32, lr 0.2 * batch / 32 and 0.5 warm-up epoch. Each finished model is a record in
OUT.run/ (beside -o OUT; `dsd status OUT.run` reads it); OUT is written from the records at the
end. Run again with the same -o to resume.
"""


def register(subparsers) -> None:
    """Add ``dsd train`` to the command line."""
    p = subparsers.add_parser(
        "train",
        help="train each model of a samples file for a few epochs",
        description="Train every model of a samples file with one short, fixed recipe and write "
        "one result record per model (status ok / diverged / failed).",
        formatter_class=ExampleFormatter,
        epilog=EPILOG,
    )
    p.add_argument("samples", help="samples file written by `dsd sample` (.parquet/.csv/.json)")
    p.add_argument("-o", "--output", required=True, help="results file (.parquet/.csv/.json)")
    p.add_argument("--dataset", default="digits", help="digits | cifar10 | imagefolder | synthetic")
    p.add_argument(
        "--data", help="data directory (cifar10: the batches; imagefolder: train/, val/)"
    )
    p.add_argument("--epochs", type=int, default=10, help="epochs per model (default 10)")
    p.add_argument("--batch-size", type=int, help="batch size (default 128; digits 32)")
    p.add_argument(
        "--lr",
        type=float,
        help="learning rate (default 0.05 * batch / 128; digits 0.2 * batch / 32)",
    )
    p.add_argument("--wd", type=float, default=5e-5, help="weight decay (default 5e-5)")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument(
        "--warmup-epochs", type=float, help="linear warm-up epochs (default 0; digits 0.5)"
    )
    p.add_argument("--label-smoothing", type=float, default=0.0, help="label smoothing (0 = off)")
    p.add_argument("--mixup", type=float, default=0.0, help="mixup alpha (0 = off)")
    p.add_argument(
        "--ema", type=float, default=0.0, help="EMA decay per step, e.g. 0.999 (0 = off)"
    )
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present) | cpu | cuda | cuda:N")
    p.add_argument("--workers", type=int, default=4, help="DataLoader workers (imagefolder only)")
    p.add_argument(
        "--channels-last",
        choices=("auto", "on", "off"),
        default="auto",
        help="channels_last memory format (auto: on for CPU only)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile each model")
    p.add_argument(
        "--no-zero-init",
        action="store_true",
        help="keep gamma 1 in the last BN of each residual branch (default: 0, as pycls's "
        "ZERO_INIT_FINAL_GAMMA)",
    )
    p.add_argument("--limit", type=int, help="train at most N of the models not yet finished")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _config(args: argparse.Namespace):
    """The TrainConfig of the command line (DsdError for a bad value)."""
    from dsd.trainer import TrainConfig

    return TrainConfig(
        dataset=args.dataset,
        data=args.data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.wd,
        momentum=args.momentum,
        warmup_epochs=args.warmup_epochs,
        label_smoothing=args.label_smoothing,
        mixup_alpha=args.mixup,
        ema=args.ema,
        seed=args.seed,
        device=args.device,
        num_workers=args.workers,
        channels_last=args.channels_last,
        compile=args.compile,
        zero_init_residual=not args.no_zero_init,
    )


RUN_SUFFIX = ".run"
#: A model may train this long before its worker is stopped (a week: ``dsd train`` has no limit).
TIME_MIN = 7 * 24 * 60.0
#: ``space`` given to the rows of a samples file without that column (task ids need one).
NO_SPACE = "samples"


def run_dir_for(out: Path) -> Path:
    """The run folder of the results file ``out``: ``OUT.run`` beside it."""
    return out.with_name(out.name + RUN_SUFFIX)


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


def run(args: argparse.Namespace) -> int:
    """Handler of ``dsd train``."""
    from dsd.errors import DsdError
    from dsd.io import check_output_path, exclusive, read_table

    if args.limit is not None and args.limit < 0:
        raise DsdError(f"--limit must be >= 0, got {args.limit}")
    config = _config(args)
    out = check_output_path(args.output)
    samples = read_table(args.samples, required=SAMPLE_REQUIRED)
    if samples.empty:
        raise DsdError(f"{args.samples}: no models in the samples file")
    with exclusive(out, "dsd train"):
        summary = train_samples(
            samples, out, config, limit=args.limit, progress=not args.no_progress
        )
    print(summary.describe())
    return 0


def train_samples(
    samples: pd.DataFrame,
    out: Path,
    config,
    *,
    limit: int | None = None,
    progress: bool = False,
    work=None,
) -> TrainSummary:
    """Train the models of ``samples`` not yet recorded for ``out``, then write ``out``.

    The caller holds the lock on ``out`` (:func:`dsd.io.exclusive`). Everything that can be
    checked (recipe, plan, data set, device) is checked before the run folder is created.
    ``work`` replaces :func:`dsd.trainer.train_row` (benchmarks; a function importable by name).
    """
    import functools

    from dsd.io import read_table
    from dsd.sweep.driver import task_ids
    from dsd.trainer import train_row

    samples = _planned(samples)
    run_dir = run_dir_for(out)
    previous = read_table(out, required=("model_id", "status")) if out.exists() else None
    recorded = _recorded(run_dir)
    tables = [t for t in (previous, recorded) if t is not None]
    for table in tables:
        _check_same_recipe(table, config, out)
    ids = task_ids(samples, (config.seed,))
    _check_same_plan(run_dir, ids, out)
    done = {str(m) for table in tables for m in table["model_id"]}
    _check_data(_todo(samples, done, limit), config)
    work = work or functools.partial(train_row, progress=progress)
    return _run_sweep(
        samples, ids, out, previous, config, limit=limit, progress=progress, work=work
    )


def _check_data(rows: list[dict], config) -> None:
    """Check the device by name and the data set of ``rows`` on the CPU, then free the data: the
    worker loads its own copy, and this process should hold no GPU memory while it trains."""
    from dsd.trainer import check_rows, clear_cache, pick_device

    pick_device(config.device)
    try:
        check_rows(rows, config.replace(device="cpu"))
    finally:
        clear_cache()


def _planned(samples: pd.DataFrame) -> pd.DataFrame:
    """The models to plan: the first row of each model_id, with a ``space`` column."""
    samples = samples[~samples["model_id"].astype(str).duplicated()].reset_index(drop=True)
    if "space" not in samples.columns:
        samples = samples.assign(space=NO_SPACE)
    return samples


def _recorded(run_dir: Path) -> pd.DataFrame | None:
    """The records already in ``run_dir`` (plan order), read without writing anything."""
    from dsd.errors import DsdError
    from dsd.sweep.driver import read_plan
    from dsd.sweep.store import RunStore, iter_records

    try:
        plan = read_plan(run_dir)
    except DsdError:  # damaged: the sweep rebuilds it from the run's samples
        return None
    records = list(iter_records(RunStore(run_dir.resolve()), plan)) if plan else []
    return pd.DataFrame.from_records(records) if records else None


def _check_same_plan(run_dir: Path, ids: list[str], out: Path) -> None:
    """Refuse a run folder planned for another samples file."""
    from dsd.errors import DsdError
    from dsd.sweep.driver import read_plan

    try:
        plan = read_plan(run_dir)
    except DsdError:
        return  # damaged: the sweep rebuilds it if the run's samples are these, else refuses
    if plan is not None and plan != ids:
        raise DsdError(
            f"{out} belongs to a run of another samples file ({run_dir}: {len(plan)} models, "
            f"not these {len(ids)}); use another output file"
        )


def _todo(samples: pd.DataFrame, done: set[str], limit: int | None) -> list[dict]:
    """Rows of ``samples`` not yet recorded (at most ``limit``)."""
    rows = [r for r in samples.to_dict(orient="records") if str(r["model_id"]) not in done]
    return rows if limit is None else rows[:limit]


def _run_sweep(samples, ids, out, previous, config, *, limit, progress, work) -> TrainSummary:
    """Adopt the rows of an older results file, run the sweep with one worker, write ``out``."""
    from dsd.io import read_table
    from dsd.sweep.driver import run_locked
    from dsd.sweep.exec_local import LocalExecutor
    from dsd.sweep.executors import ExecutorSettings
    from dsd.sweep.store import RunLock, RunStore

    settings = ExecutorSettings(kind="local", slots=1, max_retries=0, time_min=TIME_MIN)
    run_dir = run_dir_for(out)
    run_dir.mkdir(exist_ok=True)
    with RunLock(run_dir):
        store = RunStore.open(run_dir, settings.stale_s)
        others = _adopt(store, samples, ids, previous)
        before = store.done_ids() & set(ids)
        try:
            with LocalExecutor(settings, worker_envs=[_worker_env()]) as executor:
                summary = run_locked(
                    samples,
                    run_dir,
                    config,
                    seeds=(config.seed,),
                    settings=settings,
                    work=work,
                    progress=progress,
                    report=None,
                    retry_failed=False,
                    executor=executor,
                    limit=limit,
                )
        except BaseException:  # Ctrl-C, a run-level error: OUT gets what was trained too
            with contextlib.suppress(Exception):
                _write_results(run_dir, out, others)
            raise
        # run_locked collected the records into RUN/results.parquet: read that one file back.
        collected = read_table(summary.results) if summary.results else pd.DataFrame()
        results = _write_results(run_dir, out, others, collected)
    new = results[~results["task_id"].isin(before)] if len(results) else results
    trained = Counter(new["status"]) if len(new) else Counter()
    return TrainSummary(trained=dict(trained), skipped=len(before), results=out)


def _worker_env() -> dict[str, str]:
    """The worker sees this process's devices and uses as many CPU threads as torch does here."""
    import torch

    n = str(torch.get_num_threads())
    return {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}


def _adopt(store, samples: pd.DataFrame, ids: list[str], previous) -> pd.DataFrame | None:
    """Record the rows of ``previous`` (an existing OUT) for planned models without a record
    (an OUT written before it had a run folder); return its rows of other models (kept in OUT)."""
    from dsd.sweep.store import plain

    if previous is None:
        return None
    task_of = dict(zip(samples["model_id"].astype(str), ids, strict=True))
    mine = previous["model_id"].astype(str).isin(task_of)
    for row in previous[mine].to_dict(orient="records"):
        task = task_of[str(row["model_id"])]
        if not store.has_record(task):
            store.write_record(task, {**plain(row), "task_id": task})
    return previous[~mine] if (~mine).any() else None


def _write_results(run_dir: Path, out: Path, others, results=None) -> pd.DataFrame:
    """The run's records (plan order; collected now unless given), with OUT's rows of other
    models, written to OUT."""
    from dsd.io import write_table
    from dsd.sweep.driver import collect

    if results is None:
        results = collect(run_dir)
    table = pd.concat([results, others], ignore_index=True) if others is not None else results
    if len(table):
        write_table(table, out)
    return results


def _check_same_recipe(previous, config, out) -> None:
    """Refuse to resume into results trained with another recipe (a run must be fair)."""
    import math

    from dsd.errors import DsdError

    expected = {
        "dataset": config.dataset,
        "epochs": config.epochs,
        **config.recipe(),
        "train_seed": config.seed,
    }
    for key, want in expected.items():
        if key not in previous.columns:
            continue
        for have in previous[key].dropna().unique():
            same = have == want
            if isinstance(want, float) and not isinstance(want, bool):
                same = math.isclose(float(have), want, rel_tol=1e-9, abs_tol=1e-12)
            if not same:
                raise DsdError(
                    f"{out} holds results trained with {key}={have}, this run asks {key}={want}; "
                    "use another output file (every model of one run gets the same recipe)"
                )
