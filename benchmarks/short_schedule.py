"""Which short-schedule recipe lets tiny sampled models learn: a table of recipes on digits.

Samples ``--n`` models per space in the demo's regime (16x16 digits, CIFAR stem, 0.5-2 MF), then

1. at initialisation: the loss and the gradient norm of the first batch, with and without the
   last BN of each residual branch at zero (``zero_init_residual``);
2. for each recipe: trains every model for ``--epochs`` epochs and prints the median, best and
   worst test error, the fraction under 50 % and the mean final training loss.

Every recipe is one :class:`dsd.trainer.TrainConfig` applied to every model (fairness). Timings
are not the point here; errors are. Example::

    python benchmarks/short_schedule.py --space AnyNetXA --n 8 --epochs 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import dsd
from dsd.nets import AnyNet, build_model
from dsd.nets.model import zero_init_residual
from dsd.trainer import TrainConfig, load_dataset, train_epochs
from dsd.trainer.engine import tensor_batches
from dsd.validate import parse_range

RECIPES = {
    "paper (bs128 lr0.05, gamma 1)": dict(batch_size=128, zero_init_residual=False),
    "bs128 lr0.05 zero-init": dict(batch_size=128),
    "bs128 lr0.4 zero-init wu0.5": dict(batch_size=128, lr=0.4, warmup_epochs=0.5),
    "bs32 lr0.1 zero-init": dict(batch_size=32, lr=0.1),
    "bs32 lr0.2 zero-init wu0.5": dict(batch_size=32, lr=0.2, warmup_epochs=0.5),
    "bs32 lr0.4 zero-init wu0.5": dict(batch_size=32, lr=0.4, warmup_epochs=0.5),
    "bs16 lr0.1 zero-init wu0.5": dict(batch_size=16, lr=0.1, warmup_epochs=0.5),
    "bs16 lr0.2 zero-init wu0.5": dict(batch_size=16, lr=0.2, warmup_epochs=0.5),
    "bs64 lr0.4 zero-init wu0.5": dict(batch_size=64, lr=0.4, warmup_epochs=0.5),
}


def first_step(net: AnyNet, data, zero: bool) -> tuple[float, float]:
    """Loss and gradient norm of the first training batch of ``net`` at initialisation."""
    torch.manual_seed(0)
    model = build_model(net)
    if zero:
        zero_init_residual(model)
    model.train()
    x, y = next(tensor_batches(data, 128, torch.Generator().manual_seed(0)))
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    grads = [p.grad.flatten() for p in model.parameters() if p.grad is not None]
    return loss.item(), torch.cat(grads).norm().item()


def main() -> None:
    """Print the two tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default="AnyNetXA")
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--flops", default="0.5e6:2e6")
    p.add_argument("--recipes", default="", help="comma-separated recipe names (default: all)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    lo, hi = parse_range(args.flops, "--flops")  # the one parser: 360K:2M, 5e5:2e6
    df = dsd.load_space(args.space).sample(
        args.n,
        flops=(lo, hi),
        seed=0,
        resolution=16,
        num_classes=10,
        stem="res_stem_cifar",
        stem_width=16,
    )
    nets = [AnyNet.from_dict(row) for _, row in df.iterrows()]
    data = load_dataset("digits", None, 16)

    print(f"{args.space}, {args.n} models, first batch of 128 (ln 10 = {2.302585:.3f})")
    print(f"{'depths':>16} {'loss g=1':>9} {'|grad| g=1':>11} {'loss g=0':>9} {'|grad| g=0':>11}")
    for net in nets:
        l1, g1 = first_step(net, data, False)
        l0, g0 = first_step(net, data, True)
        print(f"{list(net.depths)!s:>16} {l1:9.3f} {g1:11.1f} {l0:9.3f} {g0:11.1f}")

    names = [r for r in args.recipes.split(",") if r] or list(RECIPES)
    print(f"\n{args.epochs} epochs on digits (1,347 train / 450 test images), test error:")
    print(f"{'recipe':>32} {'median':>7} {'best':>6} {'worst':>6} {'<50%':>5} {'loss':>6} {'s':>5}")
    for name in names:
        cfg = TrainConfig(dataset="digits", epochs=args.epochs, num_workers=0, **RECIPES[name])
        errs, losses = [], []
        t0 = time.perf_counter()
        for net in nets:
            torch.manual_seed(cfg.seed)
            try:
                curves = train_epochs(build_model(net), data, cfg, torch.device("cpu"))
                errs.append(curves.test_err[-1])
                losses.append(curves.train_loss[-1])
            except dsd.trainer.Diverged:
                errs.append(1.0)
                losses.append(float("nan"))
        under = sum(e < 0.5 for e in errs) / len(errs)
        print(
            f"{name:>32} {statistics.median(errs):7.3f} {min(errs):6.3f} {max(errs):6.3f} "
            f"{under:5.2f} {statistics.mean(losses):6.3f} {time.perf_counter() - t0:5.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
