"""Time one model (DDS §5 compares runtimes): median inference (eval, no_grad) and training-step
(SGD, momentum 0.9) times over ``repeats`` after ``warmup``, with their IQR; an IQR above
:data:`BUSY_SPREAD` of the median means a busy machine (:func:`spread_warning`).
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from dsd.errors import DsdError
from dsd.io import TABLE_SUFFIXES, read_table
from dsd.nets import build_model, complexity, net_from_row, zoo_model
from dsd.trainer.config import MAX_BATCH
from dsd.trainer.device import autocast, check_precision, device_name, grad_scaler, pick_device
from dsd.validate import MAX_THREADS

#: The columns a timing adds to a table (conditions prefixed ``time_`` so they never clash with
#: a results file's own ``device`` or ``batch_size``).
TIMING_COLUMNS = tuple(
    "infer_ms infer_ms_per_image infer_ms_iqr train_ms train_ms_per_image train_ms_iqr "
    "time_batch_size time_resolution time_device time_threads time_channels_last time_precision "
    "time_warmup time_repeats".split()
)
#: Bound of the repeats (1e9 never end); threads: :data:`dsd.validate.MAX_THREADS`.
MAX_REPEATS = 100_000
#: IQR / median above which a timing is called disturbed (the machine was busy).
BUSY_SPREAD = 0.2


@dataclass(frozen=True)
class Timing:
    """Median times of one model (ms), their IQRs over the repeats, and the conditions."""

    infer_ms: float
    train_ms: float
    infer_ms_iqr: float
    train_ms_iqr: float
    batch_size: int
    time_resolution: int
    device: str
    threads: int
    channels_last: bool
    precision: str
    warmup: int
    repeats: int

    @property
    def infer_ms_per_image(self) -> float:
        return self.infer_ms / self.batch_size

    @property
    def train_ms_per_image(self) -> float:
        return self.train_ms / self.batch_size

    def to_dict(self) -> dict[str, Any]:
        """The fields and the per-image times, keyed by :data:`TIMING_COLUMNS` (a condition's
        column is its field's name prefixed ``time_``)."""
        fields = {c: c if hasattr(self, c) else c.removeprefix("time_") for c in TIMING_COLUMNS}
        return {c: getattr(self, field) for c, field in fields.items()}


@contextlib.contextmanager
def _threads(device: torch.device, threads: int | None) -> Iterator[int]:
    """Set the CPU thread count for the block (restored after); yield the count in effect."""
    before = torch.get_num_threads()
    if device.type == "cpu" and threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _time_ms(step: Callable[[], None], device: torch.device) -> float:
    """Milliseconds of one call of ``step`` (on CUDA by events, synchronised around it)."""
    if device.type != "cuda":
        t0 = time.perf_counter()
        step()
        return (time.perf_counter() - t0) * 1e3
    start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
    torch.cuda.synchronize(device)
    start.record()
    step()
    end.record()
    torch.cuda.synchronize(device)
    return float(start.elapsed_time(end))


def _median_iqr(step, device, warmup: int, repeats: int) -> tuple[float, float]:
    """Median and IQR of ``repeats`` timed calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        _time_ms(step, device)
    times = [_time_ms(step, device) for _ in range(repeats)]
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return float(median), float(q3 - q1)


def _check_counts(batch_size=1, warmup=0, repeats=1, threads=None, **_: Any) -> None:
    """DsdError unless the counts are integers of sensible size."""
    for name, v, low, high in (
        ("batch_size", batch_size, 1, MAX_BATCH),
        ("warmup", warmup, 0, MAX_REPEATS),
        ("repeats", repeats, 1, MAX_REPEATS),
        ("threads", 1 if threads is None else threads, 1, MAX_THREADS),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise DsdError(f"{name} must be an integer from {low} to {high:,}, got {v!r}")


def _module_and_resolution(net: Any, resolution: int | None) -> tuple[Any, Any, int]:
    """``(config, module or None, resolution)``: a module is deep-copied (its weights are never
    changed); a config is built later, under the measurement's seed and thread count."""
    if isinstance(net, torch.nn.Module):
        config, model = getattr(net, "config", None), copy.deepcopy(net)
    else:
        config, model = net, None
    resolution = resolution if resolution is not None else getattr(config, "resolution", None)
    if resolution is None:
        raise DsdError("time_model: give resolution= for a module without a config")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise DsdError(f"time_model: resolution must be a positive integer, got {resolution!r}")
    return config, model, resolution


def _measure(model, x, precision: str, warmup: int, repeats: int, train: bool, gen):
    """``((infer_ms, iqr), (train_ms, iqr))`` on the batch ``x`` (NaN if not ``train``)."""
    dev = x.device

    def infer() -> None:
        with torch.no_grad(), autocast(precision, dev):
            model(x)

    model.eval()
    with torch.no_grad():
        n_out = int(model(x[:1]).shape[1])
    infer = _median_iqr(infer, dev, warmup, repeats)
    if not train:
        return infer, (math.nan, math.nan)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    scaler = grad_scaler(precision, dev)
    y = torch.randint(0, n_out, (x.shape[0],), generator=gen).to(dev)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast(precision, dev):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    return infer, _median_iqr(step, dev, warmup, repeats)


def time_model(
    net: Any,
    *,
    batch_size: int = 8,
    resolution: int | None = None,
    device: str = "cpu",
    channels_last: bool = False,
    precision: str = "fp32",
    warmup: int = 2,
    repeats: int = 5,
    threads: int | None = None,
    train: bool = True,
    seed: int = 0,
) -> Timing:
    """Median inference and training-step times of ``net`` (a config or a module) and their IQRs
    (``train=False``: ``train_ms`` is NaN); ``precision`` is the trainer's."""
    _check_counts(batch_size, warmup, repeats, threads)
    check_precision(precision)
    config, model, resolution = _module_and_resolution(net, resolution)
    dev = pick_device(device)
    gen = torch.Generator().manual_seed(seed)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    with _threads(dev, threads) as n_threads:
        torch.manual_seed(seed)
        model = (model if model is not None else build_model(config)).to(dev, memory_format=fmt)
        x = torch.randn(batch_size, 3, resolution, resolution, generator=gen)
        x = x.to(dev).contiguous(memory_format=fmt)
        infer, trained = _measure(model, x, precision, warmup, repeats, train, gen)
    return Timing(
        infer_ms=infer[0],
        train_ms=trained[0],
        infer_ms_iqr=infer[1],
        train_ms_iqr=trained[1],
        batch_size=batch_size,
        time_resolution=resolution,
        device=device_name(dev),
        threads=int(n_threads),
        channels_last=bool(channels_last),
        precision=precision,
        warmup=warmup,
        repeats=repeats,
    )


def _jobs(inputs: Sequence[str]) -> tuple[list[tuple[str, Any, str | None]], list[pd.DataFrame]]:
    """``(label, config, source)`` per model to time (each once) and the tables read; every
    input is checked before any timing."""
    jobs, tables, seen = [], [], set()
    for text in inputs:
        if not (Path(text).suffix.lower() in TABLE_SUFFIXES or Path(text).exists()):
            jobs.append((text, zoo_model(text), None))
            continue
        df = read_table(text, required=("model_id", "depths", "widths"))
        if df.empty:
            raise DsdError(f"{text}: no models in the file")
        tables.append(df)
        for i, row in enumerate(df.to_dict(orient="records")):
            mid = str(row["model_id"])
            if mid not in seen:
                seen.add(mid)
                try:
                    jobs.append((mid, net_from_row(row), text))
                except (DsdError, TypeError, ValueError) as e:
                    raise DsdError(f"{text}: row {i}: not a network ({e})") from None
    return jobs, tables


def time_inputs(
    inputs: Sequence[str], *, resolution: int | None = None, progress: bool = True, **options: Any
) -> pd.DataFrame:
    """Time zoo models by name and the models of tables by path: a row per named model, then each
    table's rows joined with their times by ``model_id`` (``options``: :func:`time_model`'s)."""
    _check_counts(**options)  # before the progress bar starts
    jobs, tables = _jobs(inputs)
    if resolution is not None:
        jobs = [(label, net.replace(resolution=resolution), src) for label, net, src in jobs]
    named, by_id = [], {}
    bar = tqdm(jobs, desc="timing", unit="model", file=sys.stderr, disable=not progress)
    for label, net, source in bar:
        bar.set_postfix_str(label)
        t = time_model(net, **options).to_dict()
        if source is None:
            family = getattr(net, "family", "anynet")
            named.append(
                {"model": label, "family": family, "model_id": net.model_id, **complexity(net), **t}
            )
        else:
            by_id[label] = t
    bar.close()
    parts = [pd.DataFrame(named)] if named else []
    times = pd.DataFrame([{"model_id": k, **v} for k, v in by_id.items()])
    for df in tables:
        df = df.drop(columns=[c for c in TIMING_COLUMNS if c in df.columns])
        parts.append(df.assign(model_id=df["model_id"].astype(str)).merge(times, on="model_id"))
    return pd.concat(parts, ignore_index=True)


def spread_warning(times: pd.DataFrame, limit: float = BUSY_SPREAD) -> str:
    """A one-line warning when some models' IQR / median exceeds ``limit`` (a busy machine), ''
    when none does."""
    if "model_id" in times.columns:
        times = times.drop_duplicates("model_id")  # a model in several rows was timed once
    ratios = [
        (times[f"{k}_ms_iqr"] / times[f"{k}_ms"]).where(times[f"{k}_ms"] > 0)
        for k in ("infer", "train")
    ]
    spread = pd.concat(ratios, axis=1).max(axis=1).fillna(0.0)  # the larger, 0 where not timed
    busy = spread > limit
    if not busy.any():
        return ""
    return (
        f"times of {int(busy.sum())} of {len(spread)} model(s) varied by more than {limit:.0%} "
        f"between repeats (IQR/median up to {spread.max():.0%}): the machine looks busy; "
        "time again on an idle machine, with more --repeats or fewer --threads"
    )
