"""A stand-in trainer and an in-process executor, for testing and benchmarking the sweep without
torch (in the package, not under tests/, so that Slurm jobs and Ray workers can import them).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from statistics import NormalDist

import numpy as np
import pandas as pd

from dsd.errors import DataError
from dsd.sweep.executors import Executor
from dsd.sweep.task import Outcome, Task, execute


@dataclass(frozen=True)
class Planted:
    """A made-up world where the error depends on the design: ``base`` + deterministic normal
    noise + ``penalty`` unless the lists ``unless_non_decreasing`` are (``penalty=0``: none)."""

    penalty: float = 0.08
    unless_non_decreasing: tuple[str, ...] = ("widths",)
    base: float = 0.5
    noise: float = 0.03

    def error(self, row: Mapping, seed: int) -> float:
        """The error of the model of ``row`` trained with ``seed`` (a fraction in [0, 1])."""
        u = min(max(_unit(str(row["model_id"]), seed), 1e-12), 1 - 1e-12)
        e = self.base + NormalDist(0.0, self.noise).inv_cdf(u) if self.noise > 0 else self.base
        ordered = all(
            bool(np.all(np.diff(np.asarray(row[c], dtype=float)) >= 0))
            for c in self.unless_non_decreasing
        )
        return float(min(max(e + (0.0 if ordered else self.penalty), 0.0), 1.0))


@dataclass(frozen=True)
class FakeTrainer:
    """A :class:`dsd.sweep.Trainer` that answers in ``seconds`` with a made-up error; the model
    ids listed misbehave, and ``trace`` gets a line as each starts and ends."""

    seconds: float = 0.0  # "training" time per model
    fail: tuple[str, ...] = ()  # raise on every attempt
    flaky: tuple[str, ...] = ()  # raise on the first attempt only
    diverge: tuple[str, ...] = ()  # report status "diverged"
    trace: str | None = None  # file that gets "start <id> <pid> <seed>" / "end ..." lines
    seed: int = 0
    data_error: bool = False  # raise DataError, as train_row does when the data set is missing
    device: str = "auto"
    unreadable_data: bool = False  # refuse every row in check(), as an unreadable --data does
    world: Planted | None = None  # None: fake_error, independent of the design

    def with_seed(self, seed: int) -> FakeTrainer:
        """The same fake with another training seed."""
        return replace(self, seed=seed)

    def recipe_columns(self) -> dict:
        """A made-up recipe."""
        return {"dataset": "fake", "epochs": 1, "lr": 0.1}

    def check(self, rows: Sequence[Mapping]) -> None:
        """Refuse the rows when told to (``unreadable_data``)."""
        if self.unreadable_data and rows:
            raise DataError("fake data set: /nowhere is not a readable directory")

    def train(self, row: Mapping) -> dict:
        """Pretend to train the model of ``row``."""
        model_id = str(row["model_id"])
        first = self._starts(model_id) == 0
        self._trace("start", model_id)
        if self.data_error:
            raise DataError("fake data set: no such folder /nowhere")
        time.sleep(self.seconds)
        if model_id in self.fail or (model_id in self.flaky and first):
            raise RuntimeError(f"fake failure of {model_id}")
        diverged = model_id in self.diverge
        self._trace("end", model_id)
        if diverged:
            error = float("nan")
        elif self.world is not None:
            error = self.world.error(row, self.seed)
        else:
            error = fake_error(model_id, self.seed)
        return {
            **dict(row),
            "status": "diverged" if diverged else "ok",
            "reason": "loss is nan" if diverged else "",
            "top1_err": error,
            "train_seconds": self.seconds,
            "device": "cpu",
            "worker_gpus": os.environ.get("CUDA_VISIBLE_DEVICES", "unset"),
            "worker_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
            "worker_gpu_memory": os.environ.get("DSD_GPU_MEMORY_FRACTION", "unset"),
            "worker_pid": os.getpid(),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    def _trace(self, event: str, model_id: str) -> None:
        """Append one line to the trace file (O_APPEND keeps lines whole across processes)."""
        if self.trace:
            fd = os.open(self.trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{event} {model_id} {os.getpid()} {self.seed}\n".encode())
            finally:
                os.close(fd)

    def _starts(self, model_id: str) -> int:
        """How many times ``model_id`` has started so far (from the trace file)."""
        if not self.trace or not os.path.exists(self.trace):
            return 0
        with open(self.trace) as f:
            return sum(1 for line in f if line.split()[:2] == ["start", model_id])


def _unit(model_id: str, seed: int) -> float:
    """A deterministic number in [0, 1) for a model and a seed."""
    digest = hashlib.sha1(f"{model_id}:{seed}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def fake_error(model_id: str, seed: int = 0) -> float:
    """A deterministic made-up top-1 error in [0.2, 0.8) for a model."""
    return 0.2 + 0.6 * _unit(model_id, seed)


class InlineExecutor(Executor):
    """Trains each task in this process, one at a time, when the driver polls (no worker)."""

    slots = 1

    def __init__(self) -> None:
        self._queue: deque[Task] = deque()

    def submit(self, tasks: Sequence[Task]) -> None:
        """Queue the tasks."""
        self._queue.extend(tasks)

    def poll(self, timeout: float) -> list[Outcome]:
        """Train the next task, if any."""
        return [execute(self._queue.popleft())] if self._queue else []

    def close(self) -> None:
        """Forget the queue."""
        self._queue.clear()

    def describe(self) -> str:
        """Where the models train."""
        return "1 worker in the driver's process"


def fake_samples(
    n: int, spaces: tuple[str, ...] = ("FakeA", "FakeB"), seed: int = 0
) -> pd.DataFrame:
    """A samples-like table: ``n`` models per space with ids, flops and one list column."""
    rows = []
    for space in spaces:
        for i in range(n):
            mid = hashlib.sha1(f"{space}:{seed}:{i}".encode()).hexdigest()[:16]
            depths, flops = [1, 1 + i % 3, 2, 1], 1_000_000 + 1000 * i
            rows.append(dict(model_id=mid, space=space, seed=seed, depths=depths, flops=flops))
    return pd.DataFrame(rows)
