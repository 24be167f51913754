"""What an experiment will cost on the machine at hand: a few models a space are timed
(:func:`dsd.trainer.timing.time_model`) on the device a local worker would use, then
``seconds = sum over spaces (step time x models) x steps per epoch x epochs x seeds / workers``.
Training alone: evaluation, data loading, start-up and GPU sharing are not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from dsd.errors import DsdError
from dsd.nets import AnyNet
from dsd.sweep.exec_local import LocalExecutor, usable_gpus, worker_envs
from dsd.sweep.executors import ExecutorSettings
from dsd.sweep.experiment import (
    Experiment,
    builtin_experiments,
    load_experiment,
    resolve_experiment,
)
from dsd.sweep.status import duration
from dsd.trainer import DATA_PATH_DATASETS, TrainConfig
from dsd.trainer.timing import Timing, time_model

#: Training images per epoch of each data set (an image folder: ImageNet-1k's train split).
TRAIN_IMAGES = {"digits": 1347, "cifar10": 50_000, "imagefolder": 1_281_167}
CPU_TIMING_MACS = 1e9  # a CPU times a batch of about this many multiply-adds (forward)
MODELS_TIMED = 2  # per space

Timer = Callable[..., Timing]


@dataclass(frozen=True)
class SpaceCost:
    """One space's share: its models and the mean time of one training step of its timed ones."""

    space: str
    models: int
    step_s: float


@dataclass(frozen=True)
class CostEstimate:
    """The estimated training time of an experiment's models on this machine."""

    spaces: tuple[SpaceCost, ...]
    steps_per_epoch: int
    epochs: int
    seeds: int
    workers: int
    where: str  # the workers and devices the estimate assumes
    batch_size: int

    @property
    def models(self) -> int:
        """Trainings of the whole run (models x seeds)."""
        return sum(s.models for s in self.spaces) * self.seeds

    @property
    def seconds(self) -> float:
        """Wall seconds of the whole run with ``workers`` training at once."""
        steps = self.steps_per_epoch * self.epochs * self.seeds
        return sum(s.step_s * s.models for s in self.spaces) * steps / self.workers

    def seconds_for(self, trainings: int) -> float:
        """Wall seconds of ``trainings`` of the run's average model."""
        return self.seconds * trainings / self.models if self.models else 0.0

    def describe(self) -> str:
        """The total, the assumptions, one line a space."""
        lines = [
            f"estimated {duration(self.seconds)} on this machine ({self.where}): "
            f"{self.models} trainings x {self.epochs} epochs x {self.steps_per_epoch} steps "
            f"of batch {self.batch_size}",
            *(
                f"  {s.space:<20} {s.models:5d} models, {1e3 * s.step_s:9.1f} ms a step"
                for s in self.spaces
            ),
        ]
        return "\n".join(lines)


def _timed_rows(samples: pd.DataFrame, k: int) -> list[dict]:
    """``k`` rows spread over the complexity of ``samples`` (at the quantiles (i + 0.5) / k)."""
    ordered = samples.sort_values("flops", kind="stable") if "flops" in samples else samples
    picks = sorted({min(len(ordered) - 1, int((i + 0.5) / k * len(ordered))) for i in range(k)})
    return [ordered.iloc[i].to_dict() for i in picks]


def _step_seconds(rows: Sequence[dict], config: TrainConfig, cuda: bool, threads, timer) -> float:
    """Mean seconds of one training step at the recipe's batch over ``rows``."""
    times = []
    for row in rows:
        batch = config.batch_size
        # on the CPU a batch of about CPU_TIMING_MACS multiply-adds, scaled up after (per-image
        # time is nearly constant there for models that large)
        if not cuda:
            batch = max(1, min(batch, int(CPU_TIMING_MACS // max(1.0, float(row["flops"])))))
        t = timer(
            AnyNet.from_dict(row),
            batch_size=batch,
            device="cuda" if cuda else "cpu",
            threads=None if cuda else threads,
            warmup=1,
            repeats=2,
        )
        times.append(t.train_ms / 1e3 * config.batch_size / batch)
    return sum(times) / len(times)


def estimate_cost(
    samples: pd.DataFrame,
    config: TrainConfig,
    settings: ExecutorSettings,
    *,
    seeds: int = 1,
    per_space: int = MODELS_TIMED,
    timer: Timer | None = None,
) -> CostEstimate:
    """The training time of ``samples`` with ``config`` on the local workers ``settings`` lays out."""
    timer = timer or time_model
    envs = worker_envs(settings, config.device, usable_gpus())
    cuda = bool(envs[0]["CUDA_VISIBLE_DEVICES"])
    threads = int(envs[0]["OMP_NUM_THREADS"])
    images = TRAIN_IMAGES.get(config.dataset, config.synthetic_size)
    spaces = tuple(
        SpaceCost(
            str(space),
            len(rows),
            _step_seconds(_timed_rows(rows, per_space), config, cuda, threads, timer),
        )
        for space, rows in samples.groupby("space", sort=False)
    )
    where = LocalExecutor(settings, config.device, envs=envs).describe()  # starts no process
    return CostEstimate(
        spaces=spaces,
        steps_per_epoch=max(1, images // config.batch_size),
        epochs=config.epochs,
        seeds=seeds,
        workers=len(envs),
        where=where,
        batch_size=config.batch_size,
    )


def local_settings(settings: ExecutorSettings) -> ExecutorSettings:
    """The local executor's settings nearest to ``settings`` (a cluster's run as if it ran here)."""
    if settings.kind == "local":
        return settings
    return ExecutorSettings(slots=settings.slots, threads_per_slot=settings.threads_per_slot)


def estimate_experiment(
    exp: Experiment, data: str | None = None, settings: ExecutorSettings | None = None, **kw
) -> CostEstimate:
    """:func:`estimate_cost` of an experiment's samples and recipe, run here."""
    # the estimate reads no data: a placeholder path satisfies the recipe's check of cifar10 etc.
    if exp.dataset in DATA_PATH_DATASETS:
        data = data or exp.data or "(not read)"
    config = exp.train_config(data)
    settings = local_settings(settings or exp.executor)
    return estimate_cost(exp.sample(), config, settings, seeds=len(exp.seeds), **kw)


@dataclass(frozen=True)
class ExperimentCard:
    """An experiment file with its estimated cost here (or why there is none)."""

    experiment: Experiment
    text: str  # the file as written (its comments say how to run it)
    estimate: CostEstimate | None
    note: str = ""  # why there is no estimate

    def line(self) -> str:
        """Name, spaces, n, epochs, data set, estimate."""
        e = self.experiment
        cost = duration(self.estimate.seconds) if self.estimate else self.note or "-"
        spaces = ",".join(e.spaces)
        return f"{e.name:<24} {spaces:<44} {e.n:>5} {e.epochs:>6}  {e.dataset:<11} {cost}"

    def describe(self) -> str:
        """The file, then the estimate with one line a space."""
        cost = self.estimate.describe() if self.estimate else f"no estimate: {self.note}"
        return f"{self.text.rstrip()}\n\n{cost}"


def experiment_cards(
    refs: Sequence[str] | None = None, *, estimate: bool = True
) -> list[ExperimentCard]:
    """The experiments ``refs`` (default: every built-in one, one model a space timed), estimated."""
    cards = []
    per_space = MODELS_TIMED if refs is not None else 1
    for ref in refs if refs is not None else builtin_experiments():
        path = resolve_experiment(ref)
        exp = load_experiment(path)
        cost, note = None, "" if estimate else "not estimated"
        if estimate:
            try:
                cost = estimate_experiment(exp, per_space=per_space)
            except DsdError as e:
                note = str(e).splitlines()[0][:120]
        cards.append(ExperimentCard(exp, path.read_text(encoding="utf-8"), cost, note))
    return cards
