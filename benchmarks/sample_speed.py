"""Sampler and complexity speed (issue 2's targets), printed as a table.

    python benchmarks/sample_speed.py [--repeats 5]

Warm, in-process timings (median of repeats). The baseline is the one-config-at-a-time way of
the reference implementation, measured in the same run: draw one config, apply the
compatibility rule, build the AnyNet and count its complexity layer by layer, until n are in
range (without building torch modules, so it is faster than the reference itself). Ratios are
what to quote; absolute times on shared machines are noise.
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import timed

from dsd.nets import AnyNet, complexity, complexity_batch
from dsd.spaces import load_space

FLOPS = (360e6, 400e6)


def scalar_sampler(space, n: int, seed: int = 0) -> int:
    """The one-at-a-time baseline for an AnyNet space; returns the number of draws."""
    rng = np.random.default_rng(seed)
    kept, seen, draws = 0, set(), 0
    p = space.parameters
    while kept < n:
        draws += 1
        cfg = {k: [float(p[k].draw(rng, ())) for _ in range(space.stages)] for k in p}
        net = AnyNet(
            depths=[int(x) for x in cfg["depth"]],
            widths=[int(x) for x in cfg["width"]],
            group_widths=[int(x) for x in cfg["group_width"]],
            bottleneck_ratios=cfg["bottleneck_ratio"],
            **space.network,
        )
        if FLOPS[0] <= complexity(net)["flops"] <= FLOPS[1] and net.model_id not in seen:
            seen.add(net.model_id)
            kept += 1
    return draws


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--baseline-n", type=int, default=50, help="models the slow baseline samples")
    args = ap.parse_args()

    rows = []
    xa, rx = load_space("AnyNetXA"), load_space("RegNetX")
    t_xa = timed(lambda: xa.sample(500, flops=FLOPS, seed=0), args.repeats)
    t_rx = timed(lambda: rx.sample(500, flops=FLOPS, seed=0), args.repeats)
    xe = load_space("AnyNetXE")
    t_xe = timed(lambda: xe.sample(500, flops=FLOPS, seed=0), args.repeats)
    t_base = timed(lambda: scalar_sampler(xa, args.baseline_n), 1)
    per_model_base = t_base / args.baseline_n
    rows.append(
        (
            "500 AnyNetXA in 360-400MF",
            f"{t_xa:.3f} s",
            "<= 0.25 s",
            f"{per_model_base * 500:.1f} s*",
            f"{per_model_base * 500 / t_xa:,.0f}x",
        )
    )
    rows.append(("500 AnyNetXE in 360-400MF (conditioned)", f"{t_xe:.3f} s", "< 1 s", "", ""))
    rows.append(("500 RegNetX in 360-400MF", f"{t_rx:.3f} s", "<= 0.5 s", "", ""))

    rng = np.random.default_rng(0)
    n = 1_000_000
    d = rng.integers(1, 17, (n, 4))
    w = rng.integers(1, 129, (n, 4)) * 8
    g = np.full((n, 4), 8)
    t_cx = timed(lambda: complexity_batch(d, w, g, 1.0, 2), args.repeats)
    nets = [AnyNet(depths=d[i], widths=w[i], group_widths=8) for i in range(2000)]
    t_one = timed(lambda: [complexity(x) for x in nets], 1) / len(nets)
    rows.append(
        (
            "vectorised complexity, 1e6 configs",
            f"{n / t_cx:,.0f} /s",
            ">= 1e6 /s",
            f"{1 / t_one:,.0f} /s",
            f"{t_one * n / t_cx:,.0f}x",
        )
    )

    header = ("task", "dsd", "target", "scalar baseline", "ratio")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print(
        f"\n* baseline measured on {args.baseline_n} models ({t_base:.2f} s), scaled to 500; median of {args.repeats} warm runs for dsd."
    )


if __name__ == "__main__":
    main()
