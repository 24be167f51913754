"""``dsd run``: sample every space of an experiment, train everything, collect, report.

The first run of an experiment into ``RUN_DIR`` stores the experiment and the samples there; a
second run into the same directory resumes it (it checks the experiment did not change in what
it trains, and never resamples). Executor settings may change between runs: start on one
machine, finish on Slurm.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import yaml

from dsd.errors import DsdError
from dsd.io import read_table
from dsd.sweep.driver import SweepSummary, run_locked
from dsd.sweep.executors import ExecutorSettings
from dsd.sweep.experiment import Experiment
from dsd.sweep.store import EXPERIMENT, SAMPLES, RunLock, plain
from dsd.sweep.task import WorkFn, default_work


def sample_experiment(exp: Experiment) -> pd.DataFrame:
    """Sample ``exp.n`` models from every space of the experiment (deterministic for its seed)."""
    from dsd.spaces import load_space

    network = dict(exp.network)
    if exp.resolution is not None:
        network["resolution"] = exp.resolution
    if exp.num_classes is not None:
        network["num_classes"] = exp.num_classes
    frames = [
        load_space(name).sample(exp.n, flops=exp.flops, seed=exp.sample_seed, **network)
        for name in exp.spaces
    ]
    return pd.concat(frames, ignore_index=True)


def _check_same_experiment(run_dir: Path, exp: Experiment) -> bool:
    """Store the experiment in a new run directory; in an old one, check it is the same plan.

    Returns whether the run directory is new.
    """
    path = run_dir / EXPERIMENT
    plan = plain(exp.plan())
    if not path.exists():
        doc = {"name": exp.name, "source": exp.path, "plan": plan}
        doc["executor"] = plain(dataclasses.asdict(exp.executor))
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return True
    old = (yaml.safe_load(path.read_text()) or {}).get("plan", {})
    changed = sorted(k for k in set(plan) | set(old) if plan.get(k) != old.get(k))
    if changed:
        raise DsdError(
            f"{run_dir} was started with another experiment (differs in: {', '.join(changed)}); "
            "use a new run directory, or restore the experiment to resume"
        )
    return False


def run_experiment(
    exp: Experiment,
    run_dir: str | Path,
    *,
    settings: ExecutorSettings | None = None,
    data: str | None = None,
    work: WorkFn = default_work,
    config=None,
    progress: bool = True,
    report: bool = True,
    retry_failed: bool = False,
) -> SweepSummary:
    """Run (or resume) experiment ``exp`` into ``run_dir``; return what was done."""
    settings = settings or exp.executor
    config = config if config is not None else exp.train_config(data)  # fail before any output
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir):
        new = _check_same_experiment(run_dir, exp)
        samples_path = run_dir / SAMPLES
        samples = sample_experiment(exp) if new or not samples_path.exists() else None
        if samples is None:
            samples = read_table(samples_path, required=("model_id", "space"))
        return run_locked(
            samples,
            run_dir,
            config,
            seeds=exp.seeds,
            settings=settings,
            work=work,
            progress=progress,
            report=report,
            retry_failed=retry_failed,
            executor=None,
        )
