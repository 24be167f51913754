"""``dsd run``: sample every space of an experiment, train everything, collect, report.

The first run of an experiment into ``RUN_DIR`` stores the experiment and the samples there; a
second run into the same directory resumes it (it checks the experiment did not change in what
it trains, and never resamples). Executor settings may change between runs: start on one
machine, finish on Slurm.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

from dsd.errors import DsdError
from dsd.io import load_yaml, read_table, write_text_atomic
from dsd.sweep.driver import ReportFn, SweepSummary, run_locked
from dsd.sweep.executors import ExecutorSettings, check_available
from dsd.sweep.experiment import Experiment
from dsd.sweep.store import EXPERIMENT, RECORDS, SAMPLES, RunLock, plain
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


def _stored_plan(run_dir: Path) -> dict | None:
    """The plan in RUN_DIR/experiment.yaml; None if there is no (usable) file.

    A damaged file (empty after a full disk, edited by hand) only counts as absent while the run
    has no records: then nothing depends on it and it is written again. Otherwise the run is
    refused with a message, since what was trained can no longer be checked.
    """
    path = run_dir / EXPERIMENT
    if not path.exists():
        return None
    try:
        doc = load_yaml(path)
    except DsdError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("plan"), dict):
        return doc["plan"]
    if any((run_dir / RECORDS).glob("*.json")):
        raise DsdError(
            f"{path} is damaged and the run has records; restore the file or use a new run directory"
        )
    print(f"dsd: warning: {path} was damaged; written again", file=sys.stderr)
    return None


def _check_same_experiment(run_dir: Path, exp: Experiment) -> bool:
    """Store the experiment in a new run directory; in an old one, check it is the same plan.

    Returns whether the run directory is new.
    """
    path = run_dir / EXPERIMENT
    plan = plain(exp.plan())
    old = _stored_plan(run_dir)
    if old is None:
        doc = {"name": exp.name, "source": exp.path, "plan": plan}
        doc["executor"] = plain(dataclasses.asdict(exp.executor))
        write_text_atomic(path, yaml.safe_dump(doc, sort_keys=False))
        return True
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
    report: ReportFn | None = None,
    retry_failed: bool = False,
    on_start: Callable[[], None] | None = None,
) -> SweepSummary:
    """Run (or resume) experiment ``exp`` into ``run_dir``; return what was done.

    Everything that can be checked (recipe, executor, spaces, regime, run directory) is checked
    before the run directory is created; ``on_start`` is called once it is, just before training.
    """
    settings = settings or exp.executor
    config = config if config is not None else exp.train_config(data)  # fail before any output
    if not str(run_dir).strip():
        raise DsdError("run directory: empty name (give -o RUN_DIR)")
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise DsdError(f"{run_dir}: exists and is not a directory")
    check_available(settings)
    # A new run samples before it creates anything: a bad space or regime leaves no trace.
    fresh = not (run_dir / SAMPLES).exists()
    drawn = sample_experiment(exp) if fresh else None
    run_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir):
        new = _check_same_experiment(run_dir, exp)
        samples_path = run_dir / SAMPLES
        samples = None
        if new or not samples_path.exists():
            samples = drawn if drawn is not None else sample_experiment(exp)
        if samples is None:
            samples = read_table(samples_path, required=("model_id", "space"))
        if on_start is not None:
            on_start()
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
