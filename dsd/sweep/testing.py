"""Stand-ins for training, for testing and benchmarking the sweep machinery without torch.

:func:`fake_train` has the signature of :func:`dsd.trainer.train_row` and answers in
``FakeConfig.seconds`` with a made-up error, or raises / diverges for chosen models. It appends
``start``/``end`` lines to ``FakeConfig.trace`` so tests can count how often each model ran.
It lives in the package (not under tests/) so that Slurm jobs and Ray workers can import it.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd

from dsd.errors import DataError


@dataclass(frozen=True)
class FakeConfig:
    """How the fake training behaves; the model ids listed misbehave."""

    seconds: float = 0.0  # "training" time per model
    fail: tuple[str, ...] = ()  # raise on every attempt
    flaky: tuple[str, ...] = ()  # raise on the first attempt only
    diverge: tuple[str, ...] = ()  # report status "diverged"
    trace: str | None = None  # file that gets "start <id> <pid>" / "end <id> <pid>" lines
    seed: int = 0
    data_error: bool = False  # raise DataError, as train_row does when the data set is missing


def _trace(config: FakeConfig, event: str, model_id: str) -> None:
    """Append one line to the trace file (O_APPEND keeps lines whole across processes)."""
    if config.trace:
        fd = os.open(config.trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{event} {model_id} {os.getpid()} {config.seed}\n".encode())
        finally:
            os.close(fd)


def _starts(config: FakeConfig, model_id: str) -> int:
    """How many times ``model_id`` has started so far (from the trace file)."""
    if not config.trace or not os.path.exists(config.trace):
        return 0
    with open(config.trace) as f:
        return sum(1 for line in f if line.split()[:2] == ["start", model_id])


def fake_error(model_id: str, seed: int = 0) -> float:
    """A deterministic made-up top-1 error in [0.2, 0.8) for a model."""
    digest = hashlib.sha1(f"{model_id}:{seed}".encode()).digest()
    return 0.2 + 0.6 * int.from_bytes(digest[:4], "big") / 2**32


def fake_train(row: Mapping, config: FakeConfig) -> dict:
    """Pretend to train the model of ``row``; same contract as ``dsd.trainer.train_row``."""
    model_id = str(row["model_id"])
    first = _starts(config, model_id) == 0
    _trace(config, "start", model_id)
    if config.data_error:
        raise DataError("fake data set: no such folder /nowhere")
    time.sleep(config.seconds)
    if model_id in config.fail or (model_id in config.flaky and first):
        raise RuntimeError(f"fake failure of {model_id}")
    diverged = model_id in config.diverge
    err = float("nan") if diverged else fake_error(model_id, config.seed)
    _trace(config, "end", model_id)
    return {
        **dict(row),
        "status": "diverged" if diverged else "ok",
        "reason": "loss is nan" if diverged else "",
        "top1_err": err,
        "train_seconds": config.seconds,
        "device": "cpu",
        "worker_gpus": os.environ.get("CUDA_VISIBLE_DEVICES", "unset"),
        "worker_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "worker_gpu_memory": os.environ.get("DSD_GPU_MEMORY_FRACTION", "unset"),
        "worker_pid": os.getpid(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def fake_samples(
    n: int, spaces: tuple[str, ...] = ("FakeA", "FakeB"), seed: int = 0
) -> pd.DataFrame:
    """A samples-like table: ``n`` models per space with ids, flops and one list column."""
    rows = []
    for space in spaces:
        for i in range(n):
            mid = hashlib.sha1(f"{space}:{seed}:{i}".encode()).hexdigest()[:16]
            rows.append(
                {
                    "model_id": mid,
                    "space": space,
                    "seed": seed,
                    "depths": [1, 1 + i % 3, 2, 1],
                    "flops": 1_000_000 + 1000 * i,
                }
            )
    return pd.DataFrame(rows)
