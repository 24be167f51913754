"""The short schedule's loop (:func:`train_epochs`), fast in airbench's way: in-memory data lives
on the device as uint8 and is cut, augmented and normalised there; bf16 autocast on CUDA; the loss
is read back every ``CHECK_EVERY`` steps. Half-period cosine lr **per step**, linear warm-up.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from dsd.errors import DataError
from dsd.nets.model import zero_init_residual
from dsd.trainer import transforms as T
from dsd.trainer.config import TrainConfig
from dsd.trainer.data import Data, FolderData, FolderSplit, TensorData
from dsd.trainer.device import autocast, grad_scaler

# Read the device-side running loss back every this many steps on accelerators (every step on CPU).
CHECK_EVERY = 25

Batch = tuple[torch.Tensor, torch.Tensor]


class Diverged(RuntimeError):
    """The training loss became NaN or infinite; ``curves`` holds the epochs completed before."""

    curves: Curves | None = None


@dataclass
class Curves:
    """Per-epoch training loss and test error, and the training steps' throughput."""

    train_loss: list[float] = field(default_factory=list)
    test_err: list[float] = field(default_factory=list)
    train_images: int = 0
    step_seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        """Training images per second of training-step time."""
        return self.train_images / self.step_seconds if self.step_seconds > 0 else float("nan")


def lr_at(
    step: int, total: int, lr: float, warmup_steps: int = 0, warmup_factor: float = 0.1
) -> float:
    """Learning rate of step ``step`` (0-based) of ``total``: half-period cosine, linear warm-up."""
    lr *= 0.5 * (1.0 + math.cos(math.pi * step / total))
    if step < warmup_steps:
        alpha = step / warmup_steps
        lr *= warmup_factor * (1.0 - alpha) + alpha
    return lr


def use_channels_last(config: TrainConfig, device: torch.device) -> bool:
    """Whether to use channels_last (``auto``: on CPU only)."""
    return config.channels_last == "on" or (config.channels_last == "auto" and device.type == "cpu")


def tensor_batches(
    data: TensorData, batch_size: int, generator: torch.Generator, channels_last: bool = False
) -> Iterator[Batch]:
    """One epoch of augmented, normalised training batches, cut by index (last partial dropped)."""
    n = len(data.train_y)
    perm = torch.randperm(n, device=data.device, generator=generator)
    for i in range(0, n - batch_size + 1, batch_size):
        idx = perm[i : i + batch_size]
        x = T.random_crop_flip(data.train_x[idx], data.pad, data.flip, generator)
        yield _prepare(T.normalize(x, data.mean, data.std), channels_last), data.train_y[idx]


def _prepare(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _worker_init(_: int) -> None:
    """One torch thread per DataLoader worker (the workers decode; the main process computes)."""
    torch.set_num_threads(1)


def folder_loader(data: FolderData, config: TrainConfig, train: bool, device: torch.device):
    """A DataLoader over one split of an image folder (workers, pinned memory, persistent)."""
    workers = config.num_workers
    batch = config.batch_size if train else min(config.eval_batch_size, 2 * config.batch_size)
    return torch.utils.data.DataLoader(
        FolderSplit(data.train if train else data.val, data.resolution, train),
        batch_size=batch,
        shuffle=train,
        drop_last=train,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        worker_init_fn=_worker_init if workers > 0 else None,
        generator=torch.Generator().manual_seed(config.seed),
    )


def _to_device(batches, data: Data, device: torch.device, channels_last: bool) -> Iterator[Batch]:
    """uint8 batches moved to ``device`` (a no-op where they are) and normalised there."""
    mean, std = data.mean.to(device), data.std.to(device)
    for x, y in batches:
        x = x.to(device, non_blocking=True)
        yield _prepare(T.normalize(x, mean, std), channels_last), y.to(device, non_blocking=True)


class EMA:
    """Exponential moving average of a model's parameters and buffers (per-step ``decay``)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """ema <- decay * ema + (1 - decay) * model for float tensors; copy the others."""
        src, dst = model.state_dict(), self.model.state_dict()
        floats = [k for k, v in dst.items() if v.dtype.is_floating_point]
        torch._foreach_lerp_([dst[k] for k in floats], [src[k] for k in floats], 1.0 - self.decay)
        for k, v in dst.items():
            if not v.dtype.is_floating_point:
                v.copy_(src[k])


def steps_per_epoch(data: Data, batch_size: int) -> int:
    """Full training batches per epoch; DataError if the data set is smaller than one batch."""
    n = len(data.train_y) if isinstance(data, TensorData) else len(data.train)
    if n < batch_size:
        raise DataError(f"{data.name}: {n} training images, fewer than one batch of {batch_size}")
    return n // batch_size


@dataclass
class TrainState:
    """The mutable state of one model's training; :meth:`train_epoch` advances it."""

    model: torch.nn.Module
    run: torch.nn.Module  # ``model``, or its torch.compile wrapper
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    ema: EMA | None
    config: TrainConfig
    device: torch.device
    gen: torch.Generator
    rng: np.random.Generator
    total: int
    warmup: int
    step: int = 0

    @classmethod
    def create(
        cls, model: torch.nn.Module, data: Data, config: TrainConfig, device: torch.device
    ) -> TrainState:
        """Move ``model`` to ``device`` and set up the optimizer, EMA and seeded generators."""
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        if config.compile:
            torch._dynamo.reset()  # one model per process after another: no stale graphs, no limit
        if config.zero_init_residual:
            zero_init_residual(model)
        memory = torch.channels_last if use_channels_last(config, device) else torch.preserve_format
        model = model.to(device, memory_format=memory)
        steps = steps_per_epoch(data, config.batch_size)
        gen = torch.Generator(device=device if isinstance(data, TensorData) else "cpu")
        return cls(
            model=model,
            run=torch.compile(model) if config.compile else model,
            opt=torch.optim.SGD(
                model.parameters(),
                lr=config.lr,
                momentum=config.momentum,
                weight_decay=config.weight_decay,
                nesterov=config.nesterov and config.momentum > 0,
            ),
            scaler=grad_scaler(config.precision, device),
            ema=EMA(model, config.ema) if config.ema > 0 else None,
            config=config,
            device=device,
            gen=gen.manual_seed(config.seed),
            rng=np.random.default_rng(config.seed),
            total=steps * config.epochs,
            warmup=round(steps * config.warmup_epochs),
        )

    @property
    def eval_model(self) -> torch.nn.Module:
        """The EMA average when on, else the trained model."""
        return self.ema.model if self.ema is not None else self.run

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One SGD step at the scheduled learning rate; returns the (detached) loss."""
        cfg = self.config
        for group in self.opt.param_groups:
            group["lr"] = lr_at(self.step, self.total, cfg.lr, self.warmup, cfg.warmup_factor)
        x, y2, lam = mixup(x, y, cfg.mixup_alpha, self.rng, self.gen)
        with autocast(cfg.precision, self.device):
            logits = self.run(x)
        loss = _loss(logits, y, cfg.label_smoothing)
        if lam < 1.0:
            loss = lam * loss + (1.0 - lam) * _loss(logits, y2, cfg.label_smoothing)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        return loss.detach()

    def train_epoch(self, batches: Iterator[Batch], on_step: Callable[[], None] | None = None):
        """Run SGD over ``batches``; return (mean loss, steps). Raises Diverged on NaN/inf."""
        self.run.train()
        check = 1 if self.device.type == "cpu" else CHECK_EVERY
        loss_sum = torch.zeros((), device=self.device)
        n = 0
        for x, y in batches:
            loss = self.train_step(x, y)
            loss_sum += loss.float()
            n += 1
            if n % check == 0 and not math.isfinite(loss_sum.item()):
                raise Diverged(f"training loss became {loss.item()} at step {self.step}")
            if on_step is not None:
                on_step()
        mean = loss_sum.item() / max(n, 1)
        if not math.isfinite(mean):
            raise Diverged(f"training loss became {mean} by step {self.step}")
        return mean, n


def train_epochs(
    model: torch.nn.Module,
    data: Data,
    config: TrainConfig,
    device: torch.device,
    on_step: Callable[[], None] | None = None,
) -> Curves:
    """Train ``model`` for ``config.epochs`` epochs; evaluate after each. Raises Diverged."""
    state = TrainState.create(model, data, config, device)
    loaders = None
    if isinstance(data, FolderData):
        loaders = [folder_loader(data, config, train, device) for train in (True, False)]
    nhwc = use_channels_last(config, device)
    curves = Curves()
    for _ in range(config.epochs):
        if isinstance(data, TensorData):
            batches = tensor_batches(data, config.batch_size, state.gen, nhwc)
        else:
            batches = _to_device(loaders[0], data, device, nhwc)
        t0 = time.perf_counter()
        try:
            loss, n = state.train_epoch(batches, on_step)
        except Diverged as e:
            curves.train_loss.append(float("nan"))
            e.curves = curves
            raise
        curves.step_seconds += time.perf_counter() - t0
        curves.train_images += n * config.batch_size
        curves.train_loss.append(loss)
        curves.test_err.append(evaluate(state.eval_model, data, config, device, loaders))
    return curves


def _loss(logits: torch.Tensor, y: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """Cross-entropy in float32, with optional label smoothing."""
    return F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)


def mixup(
    x: torch.Tensor, y: torch.Tensor, alpha: float, rng: np.random.Generator, gen: torch.Generator
):
    """Mixup (Zhang et al. 2018): ``(lam * x + (1 - lam) * x[perm], y[perm], lam ~ Beta(alpha,
    alpha))``; ``alpha == 0`` returns the batch unchanged and ``lam = 1``."""
    if alpha <= 0:
        return x, y, 1.0
    lam = float(rng.beta(alpha, alpha))
    perm = torch.randperm(len(y), device=gen.device, generator=gen).to(x.device)
    return lam * x + (1.0 - lam) * x[perm], y[perm], lam


@torch.inference_mode()
def evaluate(
    model: torch.nn.Module, data: Data, config: TrainConfig, device: torch.device, loaders=None
) -> float:
    """Top-1 error (a fraction) on the test split, in large batches under inference mode."""
    model.eval()
    if isinstance(data, TensorData):
        n, size = len(data.test_y), config.eval_batch_size
        raw = ((data.test_x[i : i + size], data.test_y[i : i + size]) for i in range(0, n, size))
    else:
        raw = loaders[1] if loaders else folder_loader(data, config, False, device)
    batches = _to_device(raw, data, device, use_channels_last(config, device))
    wrong = torch.zeros((), dtype=torch.long, device=device)
    count = 0
    for x, y in batches:
        with autocast(config.precision, device):
            wrong += (model(x).argmax(1) != y).sum()
        count += len(y)
    return wrong.item() / max(count, 1)
