"""dsd.sweep: train many models, on one machine, on Slurm or on Ray, and survive any crash.

The pipeline's third arrow: ``samples.parquet --train (sweep)--> results.parquet``. One door,
:func:`run_sweep` (``samples, folder, SweepOptions -> SweepSummary``), which ``dsd train``,
``dsd run`` and the design loop call (:func:`check_sweep` makes its checks alone, creating
nothing).

- :mod:`~dsd.sweep.driver`       :func:`run_sweep` and :class:`SweepOptions`: the checks made
  before anything is created, the task list, the driver under the folder's lock.
- :mod:`~dsd.sweep.folder`       :class:`RunFolder`: every path of a run, its lock, records,
  attempts and claims.
- :mod:`~dsd.sweep.task`         one task: the :class:`Trainer` protocol, claim, train, record.
- :mod:`~dsd.sweep.torch_trainer` :class:`TorchTrainer`: the protocol for :mod:`dsd.trainer`.
- :mod:`~dsd.sweep.dispatch`     the driver's loop: submit, retry, watch, stop.
- :mod:`~dsd.sweep.executors`    the executor interface and its settings; engines in
  ``exec_local``, ``exec_slurm``, ``exec_ray``.
- :mod:`~dsd.sweep.experiment`   experiment files (``experiments/*.yaml``), strictly validated.
- :mod:`~dsd.sweep.results_file`  ``dsd train``: a samples file into one results file.
- :mod:`~dsd.sweep.estimate`     what an experiment costs on this machine.
- :mod:`~dsd.sweep.status`       ``dsd status``.
- :mod:`~dsd.sweep.testing`      a fake trainer, for tests and benchmarks.

Names load lazily, so worker processes that only run tasks stay light.
"""

from __future__ import annotations

from dsd._lazy import lazy_exports

_EXPORTS = {
    "run_sweep": "dsd.sweep.driver",
    "check_sweep": "dsd.sweep.driver",
    "SweepOptions": "dsd.sweep.driver",
    "SweepStart": "dsd.sweep.driver",
    "SweepSummary": "dsd.sweep.driver",
    "collect": "dsd.sweep.driver",
    "make_executor": "dsd.sweep.driver",
    "task_ids": "dsd.sweep.driver",
    "RunFolder": "dsd.sweep.folder",
    "Trainer": "dsd.sweep.task",
    "Task": "dsd.sweep.task",
    "Outcome": "dsd.sweep.task",
    "execute": "dsd.sweep.task",
    "TorchTrainer": "dsd.sweep.torch_trainer",
    "ExecutorSettings": "dsd.sweep.executors",
    "Executor": "dsd.sweep.executors",
    "Experiment": "dsd.sweep.experiment",
    "load_experiment": "dsd.sweep.experiment",
    "parse_experiment": "dsd.sweep.experiment",
    "builtin_experiments": "dsd.sweep.experiment",
    "train_file": "dsd.sweep.results_file",
    "train_samples": "dsd.sweep.results_file",
    "run_folder_for": "dsd.sweep.results_file",
    "TrainSummary": "dsd.sweep.results_file",
    "CostEstimate": "dsd.sweep.estimate",
    "estimate_cost": "dsd.sweep.estimate",
    "local_settings": "dsd.sweep.estimate",
    "experiment_cards": "dsd.sweep.estimate",
    "run_status": "dsd.sweep.status",
    "RunStatus": "dsd.sweep.status",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("dsd.sweep", globals(), _EXPORTS)
