"""dsd.sweep: train many models, on one machine, on Slurm or on Ray, and survive any crash.

The pipeline's third arrow: ``samples.parquet --train (sweep)--> results.parquet``.

- :mod:`~dsd.sweep.experiment`  experiment files (``experiments/*.yaml``): spaces, n, regime,
  data, recipe, seeds, executor; strictly validated.
- :mod:`~dsd.sweep.run`         ``dsd run``: sample every space, train, collect, report.
- :mod:`~dsd.sweep.driver`      the loop: tasks without a record go to an executor; retries;
  collection into ``results.parquet``.
- :mod:`~dsd.sweep.task`        one model: claim it, train it (``work(row, config)``, by
  default :func:`dsd.trainer.train_row`), write its record atomically.
- :mod:`~dsd.sweep.executors`   the executor interface (``submit``, ``poll``, ``close``) and its
  settings; engines in ``exec_local``, ``exec_slurm``, ``exec_ray``.
- :mod:`~dsd.sweep.store`       the run directory: records, attempts, claims, the driver lock.
- :mod:`~dsd.sweep.status`      ``dsd status``.
- :mod:`~dsd.sweep.testing`     test fakes: a stand-in for training, for tests and benchmarks.

Names load lazily, so worker processes that only run tasks stay light.
"""

from __future__ import annotations

from dsd._lazy import lazy_exports

_EXPORTS = {
    "Experiment": "dsd.sweep.experiment",
    "load_experiment": "dsd.sweep.experiment",
    "run_experiment": "dsd.sweep.run",
    "sample_experiment": "dsd.sweep.run",
    "run_samples": "dsd.sweep.driver",
    "collect": "dsd.sweep.driver",
    "SweepSummary": "dsd.sweep.driver",
    "ExecutorSettings": "dsd.sweep.executors",
    "Executor": "dsd.sweep.executors",
    "make_executor": "dsd.sweep.executors",
    "Task": "dsd.sweep.task",
    "Outcome": "dsd.sweep.task",
    "execute": "dsd.sweep.task",
    "run_status": "dsd.sweep.status",
    "RunStatus": "dsd.sweep.status",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("dsd.sweep", globals(), _EXPORTS)
