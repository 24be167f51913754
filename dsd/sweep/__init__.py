"""dsd.sweep: train many models, on one machine, on Slurm or on Ray, and survive any crash.

One door, :func:`run_sweep` (``samples, folder, SweepOptions -> SweepSummary``); names load
lazily, so worker processes that only run tasks stay light.
"""

from __future__ import annotations

from dsd._lazy import exports_of, lazy_exports

_NAMES = {
    "dsd.sweep.driver": "run_sweep check_sweep SweepOptions SweepStart SweepSummary collect "
    "make_executor task_ids",
    "dsd.sweep.folder": "RunFolder",
    "dsd.sweep.task": "Trainer Task Outcome execute",
    "dsd.sweep.torch_trainer": "TorchTrainer",
    "dsd.sweep.executors": "ExecutorSettings Executor",
    "dsd.sweep.experiment": "Experiment load_experiment parse_experiment builtin_experiments",
    "dsd.sweep.results_file": "train_file train_samples run_folder_for TrainSummary",
    "dsd.sweep.estimate": "CostEstimate estimate_cost local_settings experiment_cards",
    "dsd.sweep.status": "run_status RunStatus",
}
_EXPORTS = exports_of(_NAMES)

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("dsd.sweep", globals(), _EXPORTS)
