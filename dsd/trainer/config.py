"""The training recipe: one frozen :class:`TrainConfig` shared by every model of a run.

Defaults are the paper's (DDS §3.1; pycls where it is silent): SGD, momentum 0.9, Nesterov, batch
128, lr 0.05 scaled with ``batch_size / 128``, weight decay 5e-5, cosine per step, no warm-up. Two
departures, measured (benchmarks/short_schedule.py, 2026-11-29, AnyNetXA 0.5-2 MF, digits 16x16,
3 epochs): ``zero_init_residual`` on (with gamma 1, deep models start with gradient norms of
100-630 and learn little); digits gets batch 32, lr 0.2, warm-up 0.5 epoch (median error 0.38,
against 0.84 at the paper's batch: 3 epochs are 30 steps). Evaluation with running BN statistics
is within 0.03 of batch statistics, so there is no precise-BN pass. A ``None`` field takes the
data set's default when the config is made, so the config holds the values used.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from dsd.errors import DsdError
from dsd.trainer.device import check_device, check_precision
from dsd.validate import check_numbers, check_seed

# batch_size, lr at that batch (scaled linearly for another) and warm-up epochs
PAPER_DEFAULTS = {"batch_size": 128, "lr": 0.05, "warmup_epochs": 0.0}
DATASET_DEFAULTS = {"digits": {"batch_size": 32, "lr": 0.2, "warmup_epochs": 0.5}}

DATASETS = ("digits", "cifar10", "imagefolder", "synthetic")
MAX_BATCH = 65_536
#: The data sets read from a path (``--data``).
DATA_PATH_DATASETS = ("cifar10", "imagefolder")
SWITCHES = ("auto", "on", "off")


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained (the recipe) and on what (the data). ``ema``: per-step decay of a
    weight average, evaluated instead when on (0 = off).
    ``warmup_epochs`` ramps the lr linearly from ``warmup_factor * lr``. ``channels_last="auto"``
    is on for CPU only (1.1-1.7x faster there; not yet measured on a GPU: benchmarks/train_speed.py).
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
        check_numbers(self)  # no inf / nan anywhere, no absurd integers
        check_seed(self.seed, "training seed")
        if self.dataset not in DATASETS:
            raise DsdError(f"unknown dataset {self.dataset!r} (use one of {', '.join(DATASETS)})")
        preset = dict(DATASET_DEFAULTS.get(self.dataset, PAPER_DEFAULTS))
        batch = self.batch_size if self.batch_size is not None else preset["batch_size"]
        preset["lr"] = preset["lr"] * batch / preset["batch_size"]
        for name, value in preset.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
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
    if not ok:
        raise DsdError(message)
