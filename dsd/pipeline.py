"""Run an experiment (sample, estimate, :func:`dsd.sweep.run_sweep`), then write its report: the
layer above the sweep and the analysis, which know nothing of each other."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dsd.analysis import write_report
from dsd.errors import DataError
from dsd.io import read_table
from dsd.sweep import (
    Experiment,
    RunFolder,
    SweepOptions,
    SweepSummary,
    TorchTrainer,
    estimate_cost,
    run_sweep,
)


@dataclass(frozen=True)
class ExperimentSummary:
    """What ``dsd run`` left behind: the sweep's summary and the report."""

    sweep: SweepSummary
    report: Path | None

    def describe(self) -> str:
        """The sweep's lines and the report's path."""
        report = f"\n  report:  {self.report}" if self.report else ""
        return self.sweep.describe() + report


def experiment_options(exp: Experiment, data: str | None = None, **changes: Any) -> SweepOptions:
    """The sweep options of ``exp`` (its recipe with ``data``, seeds, executor, fingerprint);
    ``changes`` replace fields."""
    trainer = (
        changes.pop("trainer") if "trainer" in changes else TorchTrainer(exp.train_config(data))
    )
    base = SweepOptions(trainer=trainer, seeds=exp.seeds, executor=exp.executor, experiment=exp)
    return replace(base, **changes)


def run_experiment(
    exp: Experiment,
    run_dir: str | Path,
    options: SweepOptions | None = None,
    *,
    report: bool = True,
) -> ExperimentSummary:
    """Run (or resume) ``exp`` into ``run_dir`` and write its report (unless ``report=False``).

    A new run samples before anything is created (a bad space leaves no trace); a resumed one
    trains its stored samples. ``options`` default to :func:`experiment_options`.
    """
    options = options or experiment_options(exp)
    folder = RunFolder.at(run_dir, options.executor.stale_s)
    folder.check_path()
    try:  # a resumed run trains its stored samples; a new one (or a lost file) samples
        samples = folder.read_samples()
    except DataError:
        samples = exp.sample()
    resume = options.resume or shlex.join(["dsd", "run", exp.path or exp.name, "-o", str(run_dir)])
    options = replace(options, resume=resume, experiment=options.experiment or exp)
    local = options.executor.kind == "local" and options.engine is None
    if options.estimate is None and local and isinstance(options.trainer, TorchTrainer):
        cost = estimate_cost(
            samples, options.trainer.config, options.executor, seeds=len(options.seeds)
        )
        options = replace(options, estimate=cost)
    summary = run_sweep(samples, folder, options)
    results = read_table(summary.results) if report and summary.results is not None else None
    if results is None or not (results.get("status") == "ok").any():
        return ExperimentSummary(summary, None)
    try:
        write_report(results, folder.report, sources=[str(folder.results)])
    except Exception as e:  # the analysis layer's problem: a warning, the results are on disk
        print(f"dsd: warning: report not written ({type(e).__name__}: {e})", file=sys.stderr)
        return ExperimentSummary(summary, None)
    return ExperimentSummary(summary, folder.report)
