"""Time one model: inference (forward, eval mode) and a training step, per batch and per image.

The paper compares networks by their runtime on a GPU as well as by flops (DDS §5). This module
measures both times for one network the same way every time: random inputs of a fixed seed,
``warmup`` untimed iterations, then the median of ``repeats`` timed iterations.

- inference: ``model.eval()`` forward under ``torch.no_grad()``;
- training step: ``model.train()`` forward, cross-entropy loss, backward, SGD step (momentum 0.9).

On CPU the thread count is set (when given) for the measurement only and reported; on CUDA the
device is synchronised around each iteration and the time is read from CUDA events. The network's
weights are never changed: a config is built fresh, a module is deep-copied.
"""

from __future__ import annotations

import contextlib
import copy
import statistics
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch

from dsd.errors import DsdError
from dsd.trainer.engine import pick_device
from dsd.trainer.record import _device_name

#: The columns a timing adds to a table (conditions prefixed ``time_`` so they never clash with
#: a results file's own ``device`` or ``batch_size``).
TIMING_COLUMNS = (
    "infer_ms",
    "infer_ms_per_image",
    "train_ms",
    "train_ms_per_image",
    "time_batch_size",
    "time_resolution",
    "time_device",
    "time_threads",
    "time_channels_last",
    "time_amp",
    "time_warmup",
    "time_repeats",
)


@dataclass(frozen=True)
class Timing:
    """Median times of one model (milliseconds) and the conditions they were measured under."""

    infer_ms: float
    train_ms: float
    batch_size: int
    time_resolution: int
    device: str
    threads: int
    channels_last: bool
    amp: bool
    warmup: int
    repeats: int

    @property
    def infer_ms_per_image(self) -> float:
        """Inference time per image (ms)."""
        return self.infer_ms / self.batch_size

    @property
    def train_ms_per_image(self) -> float:
        """Training-step time per image (ms)."""
        return self.train_ms / self.batch_size

    def to_dict(self) -> dict[str, Any]:
        """The fields and the per-image times, keyed by :data:`TIMING_COLUMNS`."""
        d = {
            k if k.startswith(("infer", "train", "time_")) else f"time_{k}": v
            for k, v in asdict(self).items()
        }
        d["infer_ms_per_image"] = self.infer_ms_per_image
        d["train_ms_per_image"] = self.train_ms_per_image
        return {k: d[k] for k in TIMING_COLUMNS}


@contextlib.contextmanager
def _threads(device: torch.device, threads: int | None) -> Iterator[int]:
    """Set the CPU thread count for the block (restored after); yield the count in effect."""
    if device.type != "cpu" or threads is None:
        yield torch.get_num_threads()
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _timer(device: torch.device):
    """A function ``run(step) -> ms`` that times one call of ``step`` on ``device``."""
    if device.type == "cuda":

        def run(step) -> float:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize(device)
            start.record()
            step()
            end.record()
            torch.cuda.synchronize(device)
            return float(start.elapsed_time(end))

        return run

    def run_cpu(step) -> float:
        t0 = time.perf_counter()
        step()
        return (time.perf_counter() - t0) * 1e3

    return run_cpu


def _median(run, step, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        run(step)
    return statistics.median(run(step) for _ in range(repeats))


def time_model(
    net: Any,
    *,
    batch_size: int = 8,
    resolution: int | None = None,
    device: str = "cpu",
    channels_last: bool = False,
    amp: bool = False,
    warmup: int = 2,
    repeats: int = 5,
    threads: int | None = None,
    train: bool = True,
    seed: int = 0,
) -> Timing:
    """Median inference and training-step times of ``net`` (see the module docstring).

    ``net`` is a config (:class:`dsd.AnyNet`, :class:`dsd.nets.EfficientNet`) or a
    ``torch.nn.Module``; ``resolution`` defaults to the config's (required for a bare module).
    ``amp`` runs under autocast (bfloat16 on CPU, float16 with a gradient scaler on CUDA).
    ``train=False`` skips the training step (``train_ms`` is then NaN).
    """
    for name, v, low in (
        ("batch_size", batch_size, 1),
        ("warmup", warmup, 0),
        ("repeats", repeats, 1),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise DsdError(f"time_model: {name} must be an integer >= {low}, got {v!r}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise DsdError(f"time_model: threads must be a positive integer, got {threads!r}")
    if isinstance(net, torch.nn.Module):
        model = copy.deepcopy(net)
        config = getattr(net, "config", None)
    else:
        from dsd.nets import build_model

        config, model = net, None
    if resolution is None:
        resolution = getattr(config, "resolution", None)
        if resolution is None:
            raise DsdError("time_model: give resolution= for a module without a config")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise DsdError(f"time_model: resolution must be a positive integer, got {resolution!r}")
    dev = pick_device(device)
    gen = torch.Generator().manual_seed(seed)
    with _threads(dev, threads) as n_threads:
        torch.manual_seed(seed)
        if model is None:
            model = build_model(config)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = model.to(dev, memory_format=fmt)
        x = torch.randn(batch_size, 3, resolution, resolution, generator=gen)
        x = x.to(dev).contiguous(memory_format=fmt)
        run = _timer(dev)
        cast = (
            torch.autocast(dev.type, dtype=torch.float16 if dev.type == "cuda" else torch.bfloat16)
            if amp
            else contextlib.nullcontext()
        )

        def infer() -> None:
            with torch.no_grad(), cast:
                model(x)

        model.eval()
        with torch.no_grad():
            n_out = int(model(x[:1]).shape[1])
        infer_ms = _median(run, infer, warmup, repeats)
        train_ms = float("nan")
        if train:
            model.train()
            opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
            scaler = torch.amp.GradScaler(dev.type, enabled=amp and dev.type == "cuda")
            y = torch.randint(0, n_out, (batch_size,), generator=gen).to(dev)

            def step() -> None:
                opt.zero_grad(set_to_none=True)
                with cast:
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()

            train_ms = _median(run, step, warmup, repeats)
    return Timing(
        infer_ms=float(infer_ms),
        train_ms=float(train_ms),
        batch_size=batch_size,
        time_resolution=resolution,
        device=_device_name(dev),
        threads=int(n_threads),
        channels_last=bool(channels_last),
        amp=bool(amp),
        warmup=warmup,
        repeats=repeats,
    )
