"""Training throughput: dsd's trainer against a plain PyTorch loop fed by a DataLoader.

Same model (same init), same data (the same uint8 images and labels), same batch size, same
augmentation (random crop with zero padding ``R // 8`` + horizontal flip), same optimizer (SGD,
momentum 0.9, Nesterov, weight decay 5e-5), in one process, one after the other.

* **plain**: the way pycls feeds data: a ``torch.utils.data.Dataset`` of uint8 ``H x W x C`` numpy
  arrays, per-sample transforms in numpy (normalise, flip, pad, crop), default collate,
  ``DataLoader(shuffle, drop_last, num_workers=--workers, pin_memory on CUDA)``, fp32, and the loss
  read back every step (pycls reads loss and top-1 every step for its meters).
* **dsd**: :class:`dsd.trainer.TrainState` over :func:`dsd.trainer.engine.tensor_batches`: the data
  set lives on the device as uint8, batches are cut by index and augmented there; bf16 autocast on
  CUDA; the loss is read back every 25 steps. Variants: ``channels_last``, ``torch.compile``.

Warm-up steps (worker start, cudnn autotuning, compilation) are excluded from the timing.

    python benchmarks/train_speed.py                  # CPU, about 1.5 minutes on 2 cores
    python benchmarks/train_speed.py --device cuda --compile   # GPU: more steps, compile variants

Measured (2026-11-29, 2 shared cores, ``--threads 1`` because other jobs ran beside it; with two
threads on the busy machine every number swung by 2-5x from run to run)::

    torch 2.13.0+cpu on cpu, 1 threads; 1 warm-up + 4 timed steps, best of 2; plain loop with 2 DataLoader workers
    case                               loop                         images/s  vs plain
    cifar-regnet 123MF 32px b128       plain DataLoader                 87.4     1.00x
                                       dsd NCHW                         99.0     1.13x
                                       dsd channels_last               139.6     1.60x
    regnetx-200mf 199MF 224px b32      plain DataLoader                 27.8     1.00x
                                       dsd NCHW                         29.2     1.05x
                                       dsd channels_last                47.9     1.72x

Hence ``TrainConfig.channels_last="auto"`` turns channels_last on for CPU. On CUDA it stays off,
and so does ``compile``, until this benchmark has been run on a GPU (``--device cuda --compile``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dsd.nets import AnyNet, build_model, complexity, zoo_model
from dsd.trainer import TrainConfig, TrainState, pick_device
from dsd.trainer.data import TensorData, load_synthetic
from dsd.trainer.engine import tensor_batches, use_channels_last


@dataclass(frozen=True)
class Case:
    """One benchmark case: a model, an input resolution and a batch size."""

    name: str
    net: AnyNet
    batch: int


def cases() -> list[Case]:
    """CIFAR-scale RegNet (~120MF at 32x32, batch 128) and RegNetX-200MF (224, batch 32)."""
    cifar = zoo_model(
        "RegNetX-400MF", stem="res_stem_cifar", stem_width=32, num_classes=10, resolution=32
    ).replace(strides=(1, 2, 2, 2))
    return [
        Case("cifar-regnet", cifar, 128),
        Case("regnetx-200mf", zoo_model("RegNetX-200MF"), 32),
    ]


class NumpyImages(torch.utils.data.Dataset):
    """pycls-style data set: uint8 HWC arrays, per-sample numpy transforms, float CHW out."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, mean, std, pad: int):
        self.images, self.labels, self.pad = images, labels, pad
        self.mean = np.asarray(mean, np.float32)[:, None, None]
        self.std = np.asarray(std, np.float32)[:, None, None]

    def __len__(self) -> int:
        """Number of images."""
        return len(self.labels)

    def __getitem__(self, i: int):
        """Normalise, flip, pad and crop one image."""
        im = self.images[i].transpose(2, 0, 1).astype(np.float32)
        im = (im - self.mean) / self.std
        if np.random.uniform() < 0.5:  # noqa: NPY002 (global numpy RNG, as pycls)
            im = im[:, :, ::-1]
        size, p = im.shape[1], self.pad
        im = np.pad(im, ((0, 0), (p, p), (p, p)), mode="constant")
        y, x = np.random.randint(0, 2 * p + 1, size=2)  # noqa: NPY002
        return np.ascontiguousarray(im[:, y : y + size, x : x + size]), int(self.labels[i])


def sync(device: torch.device) -> None:
    """Wait for queued device work (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fresh_model(net: AnyNet) -> torch.nn.Module:
    """The model with a fixed initialisation (identical for every loop)."""
    torch.manual_seed(0)
    return build_model(net)


def plain_loop(
    case: Case, data: TensorData, device, warmup: int, steps: int, workers: int
) -> float:
    """Images/second of the plain DataLoader loop."""
    images = data.train_x.permute(0, 2, 3, 1).contiguous().numpy()
    ds = NumpyImages(images, data.train_y.numpy(), data.mean.tolist(), data.std.tolist(), data.pad)
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=case.batch,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
    )
    model = fresh_model(case.net).to(device).train()
    opt = torch.optim.SGD(
        model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-5, nesterov=True
    )
    t0 = None
    for i, (x, y) in enumerate(loader):
        if i == warmup:
            sync(device)
            t0 = time.perf_counter()
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
    sync(device)
    return steps * case.batch / (time.perf_counter() - t0)


def dsd_loop(case: Case, data: TensorData, device, warmup: int, steps: int, **options) -> float:
    """Images/second of dsd's loop (data on the device, batches cut by index)."""
    config = TrainConfig(
        dataset="synthetic", epochs=1, batch_size=case.batch, device=str(device), **options
    )
    data = data.to(device)
    state = TrainState.create(fresh_model(case.net), data, config, device)
    batches = tensor_batches(data, case.batch, state.gen, use_channels_last(config, device))
    state.train_epoch(itertools.islice(batches, warmup))  # ends with a host read: synced
    t0 = time.perf_counter()
    state.train_epoch(itertools.islice(batches, steps))
    return steps * case.batch / (time.perf_counter() - t0)


def variants(device: torch.device, compile_: bool) -> dict[str, dict]:
    """dsd configurations to time: the default, channels_last, and torch.compile if asked."""
    out = {"dsd NCHW": {"channels_last": "off"}, "dsd channels_last": {"channels_last": "on"}}
    if compile_:
        out["dsd compile NCHW"] = {"compile": True, "channels_last": "off"}
        out["dsd compile channels_last"] = {"compile": True, "channels_last": "on"}
    return out


def run_case(case: Case, device, args) -> list[tuple[str, float]]:
    """Time the plain loop and every dsd variant, interleaved ``--repeats`` times; keep the best."""
    n = (args.warmup + args.steps) * case.batch
    data = load_synthetic(case.net.resolution, case.net.num_classes, n)
    loops = {"plain DataLoader": None, **variants(device, args.compile)}
    best = dict.fromkeys(loops, 0.0)
    for _ in range(args.repeats):
        for name, options in loops.items():
            if options is None:
                ips = plain_loop(case, data, device, args.warmup, args.steps, args.workers)
            else:
                ips = dsd_loop(case, data, device, args.warmup, args.steps, **options)
            best[name] = max(best[name], ips)
    return list(best.items())


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run every case, print the table."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--steps", type=int, help="timed steps per loop (default 4 on CPU, 100 on CUDA)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default 1 on CPU, 20 on CUDA)")
    p.add_argument(
        "--workers", type=int, default=min(4, os.cpu_count() or 1), help="plain loop's workers"
    )
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile variants")
    p.add_argument("--repeats", type=int, default=2, help="interleaved repeats; best is kept")
    p.add_argument("--cases", default="all", help="comma-separated case names, or all")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    gpu = device.type == "cuda"
    args.steps = args.steps or (100 if gpu else 4)
    args.warmup = args.warmup or (20 if gpu else 1)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if gpu else f"cpu, {torch.get_num_threads()} threads"
    print(
        f"torch {torch.__version__} on {name}; {args.warmup} warm-up + {args.steps} timed steps, best of {args.repeats}; "
        f"plain loop with {args.workers} DataLoader workers"
    )
    print(f"{'case':<34} {'loop':<26} {'images/s':>10} {'vs plain':>9}")
    for case in cases():
        if args.cases != "all" and case.name not in args.cases.split(","):
            continue
        mf = complexity(case.net)["flops"] / 1e6
        label = f"{case.name} {mf:.0f}MF {case.net.resolution}px b{case.batch}"
        rows = run_case(case, device, args)
        base = rows[0][1]
        for loop, ips in rows:
            print(f"{label:<34} {loop:<26} {ips:>10.1f} {ips / base:>8.2f}x", flush=True)
            label = ""


if __name__ == "__main__":
    main()
