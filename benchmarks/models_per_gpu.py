"""Models per hour on one GPU against how many models train on it at once (``models_per_gpu``).

CIFAR-scale models (AnyNetXA, 32x32 input, 10 classes, ``res_stem_cifar``, 100-400 MF) are far
too small to keep a large GPU busy alone: most of a step is kernel-launch latency. The local
executor can therefore run K models at once per GPU, each its own process
(:mod:`dsd.sweep.exec_local`). This script runs the real sweep path (``run_sweep`` with
``models_per_gpu=K``) for each K on synthetic 32x32 data (no download), with
``2 * K`` models per K so each worker trains at least two, and prints models/hour and the gain
over K = 1. Per-model wall time includes the process start, cudnn autotuning and evaluation.

    python benchmarks/models_per_gpu.py                      # K = 1, 2, 4, 8, 16 on GPU 0
    python benchmarks/models_per_gpu.py --ks 1,4 --images 20000 --epochs 2

On a machine without a GPU it says so and exits 2 (the placement logic is tested on CPU in
tests/test_sweep_store.py with fake GPU ids).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import pandas as pd


def _args() -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ks", default="1,2,4,8,16", help="models at once per GPU to try")
    p.add_argument("--images", type=int, default=10000, help="synthetic training images")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--flops", default="100e6:400e6")
    p.add_argument("--gpu", default="0", help="the GPU to use (CUDA_VISIBLE_DEVICES entry)")
    return p.parse_args()


def _row(k: int, samples, config) -> tuple[int, float, int]:
    """Train ``2 k`` models with ``k`` at once on the GPU: (models, wall seconds, ok models)."""
    from dsd.sweep import ExecutorSettings, SweepOptions, TorchTrainer, run_sweep

    n = 2 * k
    run_dir = tempfile.mkdtemp(prefix=f"mpg{k}-")
    options = SweepOptions(
        trainer=TorchTrainer(config),
        executor=ExecutorSettings(models_per_gpu=k),
        progress=False,
    )
    t0 = time.perf_counter()
    summary = run_sweep(samples.head(n), run_dir, options)
    wall = time.perf_counter() - t0
    df = pd.read_parquet(summary.results)
    shutil.rmtree(run_dir, ignore_errors=True)
    ok = int((df["status"] == "ok").sum())
    return n, wall, ok


def main() -> int:
    """Run the scan and print the table."""
    args = _args()
    import torch

    if not torch.cuda.is_available():
        print("models_per_gpu: no CUDA GPU on this machine", file=sys.stderr)
        return 2
    os.environ["CUDA_VISIBLE_DEVICES"] = args.gpu

    import dsd
    from dsd.trainer import TrainConfig
    from dsd.validate import parse_range

    ks = [int(k) for k in args.ks.split(",")]
    lo, hi = parse_range(args.flops, "--flops")  # the one parser: 360K:2M, 5e5:2e6
    samples = dsd.load_space("AnyNetXA").sample(
        2 * max(ks),
        flops=(lo, hi),
        seed=0,
        resolution=32,
        num_classes=10,
        stem="res_stem_cifar",
        stem_width=32,
    )
    config = TrainConfig(
        dataset="synthetic",
        synthetic_size=args.images,
        epochs=args.epochs,
        batch_size=args.batch,
        device="cuda",
        num_workers=0,
    )
    print(
        f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}; AnyNetXA {args.flops} flops "
        f"at 32x32, {args.images} synthetic images x {args.epochs} epoch(s), batch {args.batch}"
    )
    print(
        f"{'K':>3} {'models':>7} {'wall s':>8} {'s/model':>8} {'models/h':>9} {'vs K=1':>7} {'ok':>4}"
    )
    base = None
    for k in ks:
        n, wall, ok = _row(k, samples, config)
        rate = ok / wall * 3600
        base = base or rate
        print(
            f"{k:3d} {n:7d} {wall:8.1f} {wall / n:8.2f} {rate:9.0f} {rate / base:6.2f}x {ok:4d}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
