"""Layer 3, the short-schedule trainer: one model, one frozen :class:`TrainConfig` for every model
of a run, one result record (NaN/inf -> ``diverged``, an exception -> ``failed``; the run goes on).
"""

from __future__ import annotations

from dsd.schema import RESULT_COLUMNS, STATUSES
from dsd.trainer.cifar import CIFAR10_MD5, CIFAR10_URL, download_cifar10
from dsd.trainer.config import DATA_PATH_DATASETS, DATASETS, TrainConfig
from dsd.trainer.data import clear_cache, load_dataset
from dsd.trainer.device import DEVICES, PRECISIONS, check_device, device_name, pick_device
from dsd.trainer.doctor import Finding, machine_findings
from dsd.trainer.engine import Curves, Diverged, TrainState, train_epochs
from dsd.trainer.record import check_rows, dataset_for, sample_row, train, train_row
from dsd.trainer.timing import (
    BUSY_SPREAD,
    TIMING_COLUMNS,
    Timing,
    spread_warning,
    time_inputs,
    time_model,
)

__all__ = [
    "BUSY_SPREAD",
    "CIFAR10_MD5",
    "CIFAR10_URL",
    "DATASETS",
    "DATA_PATH_DATASETS",
    "DEVICES",
    "PRECISIONS",
    "RESULT_COLUMNS",
    "STATUSES",
    "TIMING_COLUMNS",
    "Curves",
    "Diverged",
    "Finding",
    "Timing",
    "TrainConfig",
    "TrainState",
    "check_device",
    "check_rows",
    "clear_cache",
    "dataset_for",
    "device_name",
    "download_cifar10",
    "load_dataset",
    "machine_findings",
    "pick_device",
    "sample_row",
    "spread_warning",
    "time_inputs",
    "time_model",
    "train",
    "train_epochs",
    "train_row",
]
