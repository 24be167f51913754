"""The training recipe: one frozen :class:`TrainConfig` shared by every model of a run.

Fairness is the point of the short schedule: the paper trains every sampled model with the same
recipe, so the recipe is one immutable object passed to every call, never a global.

Defaults are the paper's (DDS §3.1, pycls where the paper is silent): SGD with momentum 0.9
(Nesterov, as pycls), batch 128, learning rate (``lr``) 0.05 scaled linearly with ``batch_size / 128``,
weight decay 5e-5 on every parameter, half-period cosine schedule **per step** (the learning rate
falls smoothly within an epoch, which matters for 1-10 epoch schedules), no warm-up. Label
smoothing, mixup and EMA exist as options and are off by default.

Two departures, both measured (``benchmarks/short_schedule.py``, 2026-11-29, AnyNetXA models of
0.5-2 MF on 16x16 digits, 3 epochs):

* ``zero_init_residual`` (on): the last BN of every residual branch starts at gamma 0, so each
  block starts as the identity (pycls ``BN.ZERO_INIT_FINAL_GAMMA``). With gamma 1 deep sampled
  models start with first-step gradient norms of 100-630 (2.4 at most with gamma 0) and learn
  little in a short schedule.
* Small data sets get their own batch, learning rate and warm-up (:data:`DATASET_DEFAULTS`):
  digits has 1,347 training images, 10 steps an epoch at batch 128, so 3 epochs are 30 SGD steps
  and nothing is learned (median error 0.84 with zero-init, 0.85 without). At batch 32,
  lr 0.2, warm-up 0.5 epoch (126 steps) the median is 0.38 and three quarters are under 0.5
  (lr 0.1: 0.47; lr 0.4: 0.59; batch 128 at lr 0.4: 0.75).

Checked and not the cause: the loss at step 0 is ln 10 = 2.30 within 0.13 with the CIFAR stem
either way; evaluation with running BN statistics gives the error of batch statistics within
0.03 after 8 epochs (0.18 vs 0.18, 0.57 vs 0.57, 0.86 vs 0.89), so there is no precise-BN pass.

A field left at ``None`` takes the data set's default when the config is made, so the frozen
object always holds the values used (and the results table records them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from dsd.errors import DsdError
from dsd.trainer.device import check_device, check_precision
from dsd.validate import check_numbers, check_seed

# Defaults of batch_size, lr (at that batch; scaled linearly for another) and warm-up epochs:
# the paper's lr 0.05 at batch 128.
PAPER_DEFAULTS = {"batch_size": 128, "lr": 0.05, "warmup_epochs": 0.0}
DATASET_DEFAULTS = {"digits": {"batch_size": 32, "lr": 0.2, "warmup_epochs": 0.5}}

DATASETS = ("digits", "cifar10", "imagefolder", "synthetic")
#: The largest training or evaluation batch.
MAX_BATCH = 65_536
#: The data sets read from a path (``--data``); the others are made in memory and take none.
DATA_PATH_DATASETS = ("cifar10", "imagefolder")
SWITCHES = ("auto", "on", "off")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a model is trained (the recipe) and on what (the data).

    ``batch_size``, ``lr`` and ``warmup_epochs`` left at ``None`` take the data set's defaults
    (:data:`DATASET_DEFAULTS`, else the paper's: 128, 0.05, 0); a default ``lr`` is scaled
    linearly with the batch size (``0.05 * batch_size / 128`` for the paper's data sets).
    ``ema`` is the per-step decay of an exponential moving average of the weights (0 = off); when
    on, the averaged model is the one evaluated. ``warmup_epochs`` ramps the learning rate
    linearly from ``warmup_factor * lr`` over that many epochs (fractions allowed).
    ``device``: ``auto | cpu | cuda | cuda:N`` (:mod:`dsd.trainer.device`). ``precision``:
    ``auto`` (bf16 autocast on CUDA, fp32 elsewhere), ``bf16``, ``fp16`` (with a gradient
    scaler) or ``fp32``. ``channels_last``: ``"auto"`` = on for
    CPU only (measured faster there, 1.1-1.7x; not yet measured on a GPU, so off there);
    ``compile`` (torch.compile) is off by default. See benchmarks/train_speed.py.
    """

    dataset: str = "digits"
    data: str | None = None
    epochs: int = 10
    batch_size: int | None = None
    lr: float | None = None
    weight_decay: float = 5e-5
    momentum: float = 0.9
    nesterov: bool = True
    warmup_epochs: float | None = None
    warmup_factor: float = 0.1
    zero_init_residual: bool = True
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    ema: float = 0.0
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    channels_last: str = "auto"
    compile: bool = False
    eval_batch_size: int = 1024
    num_workers: int = 4
    synthetic_size: int = 2048

    def __post_init__(self) -> None:
        """Check every field once, so a bad recipe fails before any model is trained."""
        check_numbers(self)  # no inf / nan anywhere, no absurd integers
        check_seed(self.seed, "training seed")
        if self.dataset not in DATASETS:
            raise DsdError(f"unknown dataset {self.dataset!r} (use one of {', '.join(DATASETS)})")
        preset = DATASET_DEFAULTS.get(self.dataset, PAPER_DEFAULTS)
        if self.batch_size is None:
            object.__setattr__(self, "batch_size", preset["batch_size"])
        if self.lr is None:
            object.__setattr__(self, "lr", preset["lr"] * self.batch_size / preset["batch_size"])
        if self.warmup_epochs is None:
            object.__setattr__(self, "warmup_epochs", preset["warmup_epochs"])
        if self.dataset in DATA_PATH_DATASETS and not self.data:
            raise DsdError(f"dataset {self.dataset} needs a data path (--data DIR)")
        if self.dataset not in DATA_PATH_DATASETS and self.data:
            raise DsdError(
                f"dataset {self.dataset} takes no data path, got {self.data!r} (--data is for "
                f"{' and '.join(DATA_PATH_DATASETS)})"
            )
        check_device(self.device)
        check_precision(self.precision)
        if self.channels_last not in SWITCHES:
            raise DsdError(
                f"channels_last must be one of {', '.join(SWITCHES)}, got {self.channels_last!r}"
            )
        _check(1 <= self.epochs <= 100_000, f"epochs must be from 1 to 100,000, got {self.epochs}")
        _check(
            2 <= self.batch_size <= MAX_BATCH,
            f"batch size must be from 2 to {MAX_BATCH:,}, got {self.batch_size}",
        )
        _check(self.lr > 0, f"lr must be > 0, got {self.lr}")
        _check(self.weight_decay >= 0, f"weight decay must be >= 0, got {self.weight_decay}")
        _check(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        _check(0 <= self.warmup_epochs <= self.epochs, "warm-up epochs must be in [0, epochs]")
        _check(0 < self.warmup_factor <= 1, "warm-up factor must be in (0, 1]")
        _check(0 <= self.label_smoothing < 1, "label smoothing must be in [0, 1)")
        _check(self.mixup_alpha >= 0, f"mixup alpha must be >= 0, got {self.mixup_alpha}")
        _check(0 <= self.ema < 1, f"ema decay must be in [0, 1), got {self.ema}")
        _check(
            1 <= self.eval_batch_size <= MAX_BATCH,
            f"eval batch size must be from 1 to {MAX_BATCH:,}",
        )
        _check(0 <= self.num_workers <= 256, "num_workers must be from 0 to 256")
        _check(
            1 <= self.synthetic_size <= 10_000_000, "synthetic_size must be from 1 to 10,000,000"
        )
        _check(
            self.dataset != "synthetic" or self.synthetic_size >= self.batch_size,
            f"batch size {self.batch_size} is larger than the synthetic data set "
            f"({self.synthetic_size} images)",
        )

    def recipe(self) -> dict[str, Any]:
        """The recipe columns of a result record (identical for every model of a run)."""
        return {
            "lr": float(self.lr),
            "weight_decay": float(self.weight_decay),
            "batch_size": int(self.batch_size),
            "momentum": float(self.momentum),
            "nesterov": bool(self.nesterov),
            "warmup_epochs": float(self.warmup_epochs),
            "zero_init_residual": bool(self.zero_init_residual),
            "label_smoothing": float(self.label_smoothing),
            "mixup_alpha": float(self.mixup_alpha),
            "ema": float(self.ema),
        }

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _check(ok: bool, message: str) -> None:
    """Raise a one-line DsdError unless ``ok``."""
    if not ok:
        raise DsdError(message)
