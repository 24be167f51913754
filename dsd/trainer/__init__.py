"""Layer 3, the short-schedule trainer: one model, one short schedule, one result record.

The paper trains every sampled model for 10 epochs with one fixed recipe. This package does that,
fairly (one frozen :class:`TrainConfig` for every model of a run), fast (in-memory data sets live
on the device and are augmented there) and honestly (NaN/inf -> ``diverged``, an exception ->
``failed``, and the run goes on).

- :mod:`dsd.trainer.config`      :class:`TrainConfig`, recipe and data (the paper's defaults)
- :mod:`dsd.trainer.data`        digits / cifar10 / imagefolder / synthetic, cached per process
- :mod:`dsd.trainer.cifar`       CIFAR-10 from a folder, torchvision's root or the archive; download
- :mod:`dsd.trainer.transforms`  crops, flips, resizes as torch tensor ops (no torchvision)
- :mod:`dsd.trainer.device`      the one check of a device string (:func:`pick_device`), precision
- :mod:`dsd.trainer.engine`      optimizer, per-step cosine schedule, :class:`TrainState`, evaluation
- :mod:`dsd.trainer.record`      :func:`train_row` (samples row -> result record) and :func:`train`
- :mod:`dsd.trainer.doctor`      :func:`machine_findings`: what ``dsd doctor`` checks on a new machine
- :mod:`dsd.trainer.timing`      :func:`time_model`: inference and training-step times of one model

Example::

    import dsd
    net = dsd.AnyNet(depths=(1, 1), widths=(16, 32), group_widths=8, stem="res_stem_cifar",
                     stem_width=16, num_classes=10, resolution=16)
    record = dsd.train(net, "digits", epochs=2, batch_size=64)
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
