"""``dsd train``: train every model of a samples file briefly (:func:`dsd.sweep.train_file`)."""

from __future__ import annotations

import argparse
import shlex
import sys

from dsd.cli import add_command

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
    p = add_command(
        subparsers,
        "train",
        run,
        "train each model of a samples file for a few epochs",
        description="Train every model of a samples file with one short, fixed recipe and write "
        "one result record per model (status ok / diverged / failed).",
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
    _DEFAULTS.update((dest, p.get_default(dest)) for dest in RECIPE_FLAGS)


#: Options that decide the recipe or the device: written into the resume command when not default,
#: and each sets the TrainConfig field of its name (or of ``_FIELDS``; ``no_zero_init`` is negated).
RECIPE_FLAGS = (
    "dataset data epochs batch_size lr wd momentum warmup_epochs label_smoothing mixup ema seed "
    "device workers channels_last compile no_zero_init"
).split()
#: The TrainConfig field each recipe flag sets, where it is not the flag's own name.
_FIELDS = {"wd": "weight_decay", "mixup": "mixup_alpha", "workers": "num_workers"}
_DEFAULTS: dict = {}  # of RECIPE_FLAGS, read from the parser when it is built


def _resume(args: argparse.Namespace) -> str:
    """This command line as ``dsd status`` shows it (the options that differ from the defaults)."""
    words = ["dsd", "train", args.samples, "-o", args.output]
    for dest in RECIPE_FLAGS:
        value = getattr(args, dest)
        flag = "--" + dest.replace("_", "-")
        if value != _DEFAULTS.get(dest):
            words += [flag] if value is True else [flag, str(value)]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    """Handler of ``dsd train``."""
    # lazy: torch costs ~1.3 s; `dsd --help` stays fast
    from dsd.sweep import SweepOptions, TorchTrainer, train_file
    from dsd.trainer import TrainConfig  # lazy: as above

    recipe = {_FIELDS.get(k, k): getattr(args, k) for k in RECIPE_FLAGS if k != "no_zero_init"}
    config = TrainConfig(**recipe, zero_init_residual=not args.no_zero_init)  # DsdError if bad
    out = args.output

    def announce(start) -> None:  # once everything is checked and the run folder exists
        print(
            f"dsd train: {start.describe()} (into {out}; follow it with: dsd status {out}.run)",
            file=sys.stderr,
        )

    options = SweepOptions(
        trainer=TorchTrainer(config, progress=not args.no_progress),
        seeds=(config.seed,),
        progress=not args.no_progress,
        limit=args.limit,
        resume=_resume(args),
        on_start=announce,
    )
    print(train_file(args.samples, out, options).describe())
    return 0
