"""Layer 3, the short-schedule trainer: one model, one frozen :class:`TrainConfig` for every model
of a run, one result record (NaN/inf -> ``diverged``, an exception -> ``failed``; the run goes on).
"""

from __future__ import annotations

from dsd._lazy import exports_of, lazy_exports

_NAMES = {
    "dsd.schema": "RESULT_COLUMNS STATUSES",
    "dsd.trainer.cifar": "CIFAR10_MD5 CIFAR10_URL download_cifar10",
    "dsd.trainer.config": "DATA_PATH_DATASETS DATASETS TrainConfig",
    "dsd.trainer.data": "clear_cache load_dataset",
    "dsd.trainer.device": "DEVICES PRECISIONS check_device device_name pick_device",
    "dsd.trainer.doctor": "Finding machine_findings",
    "dsd.trainer.engine": "Curves Diverged TrainState train_epochs",
    "dsd.trainer.record": "check_rows dataset_for sample_row train train_row",
    "dsd.trainer.timing": "BUSY_SPREAD TIMING_COLUMNS Timing spread_warning time_inputs time_model",
}
_EXPORTS = exports_of(_NAMES)


__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports("dsd.trainer", globals(), _EXPORTS)
