"""``dsd train``: train every model of a samples file briefly, one result record per model.

The results file is rewritten atomically after each finished model, so an interrupted run loses at
most the model in progress; started again with the same output, models already recorded (by
``model_id``, whatever their status) are skipped, and a different recipe is refused. Bad input
(samples file, data path, class count, dataset name, recipe value) is reported in one line before
anything is trained or written.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from dsd.cli import ExampleFormatter

EPILOG = """\
examples:
  dsd sample --space AnyNetXA --n 32 --resolution 32 --classes 10 --flops 1e6:4e6 -o s.parquet
  dsd train s.parquet --dataset digits --epochs 3 -o results.parquet
  dsd train s.parquet --dataset cifar10 --data ~/data/cifar-10-batches-py --epochs 10 -o results.parquet
  dsd train s.parquet --dataset imagefolder --data ~/data/imagenet --epochs 10 -o results.parquet

Every model gets the same recipe: SGD (momentum 0.9, Nesterov), batch 128, lr 0.05 * batch / 128,
weight decay 5e-5, half-period cosine per step, the last BN of each residual branch at zero.
digits is small (1347 training images: 10 steps an epoch at batch 128), so its defaults are
batch 32, lr 0.2 * batch / 32 and 0.5 warm-up epoch. Run again with the same -o to resume.
"""

SAMPLE_COLUMNS = ("model_id", "depths", "widths", "num_classes", "resolution")


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


def _todo(samples, done: set[str], limit: int | None) -> list[dict]:
    """Rows of ``samples`` not yet in the results (first occurrence of each model_id)."""
    rows, seen = [], set(done)
    for row in samples.to_dict(orient="records"):
        if str(row["model_id"]) not in seen:
            seen.add(str(row["model_id"]))
            rows.append(row)
    return rows if limit is None else rows[:limit]


def run(args: argparse.Namespace) -> int:
    """Handler of ``dsd train``."""
    from dsd.errors import DsdError
    from dsd.io import check_output_path, exclusive, read_table

    if args.limit is not None and args.limit < 0:
        raise DsdError(f"--limit must be >= 0, got {args.limit}")
    config = _config(args)
    out = check_output_path(args.output)
    samples = read_table(args.samples, required=SAMPLE_COLUMNS)
    if samples.empty:
        raise DsdError(f"{args.samples}: no models in the samples file")
    with exclusive(out, "dsd train"):
        return _train(args, config, samples, out)


def _train(args: argparse.Namespace, config, samples, out) -> int:
    """Train the models of ``samples`` not yet in ``out`` (holding the lock on ``out``)."""
    import pandas as pd

    from dsd.io import read_table, write_table
    from dsd.trainer import check_rows, train_row

    previous = read_table(out, required=("model_id", "status")) if out.exists() else None
    if previous is not None:
        _check_same_recipe(previous, config, out)
    done = set(previous["model_id"].astype(str)) if previous is not None else set()
    rows = _todo(samples, done, args.limit)
    check_rows(rows, config)
    records, bar = [], _bar(len(rows), args.no_progress)
    for row in rows:
        records.append(train_row(row, config, progress=not args.no_progress))
        new = pd.DataFrame(records)
        write_table(
            pd.concat([previous, new], ignore_index=True) if previous is not None else new, out
        )
        bar.set_postfix_str(f"last {records[-1]['status']} {records[-1]['top1_err']:.3f}")
        bar.update()
    bar.close()
    counts = Counter(r["status"] for r in records)
    summary = ", ".join(f"{counts[s]} {s}" for s in ("ok", "diverged", "failed") if counts[s])
    print(
        f"trained {len(records)} model(s) ({summary or 'none'}); "
        f"skipped {len(done & set(samples['model_id'].astype(str)))} already in {out}"
    )
    return 0


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


def _bar(total: int, disable: bool):
    """The whole-run progress bar (models, with ETA) on stderr."""
    from tqdm import tqdm

    return tqdm(total=total, desc="models", unit="model", file=sys.stderr, disable=disable)
