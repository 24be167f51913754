"""Population audit: the sampling semantics of dsd against the alternatives it replaced.

Prints, for AnyNetXE (no flop range), the depth statistics of three populations: XC draws filtered
by the constraint (the definition), sorted independent draws (order statistics, dsd 0.1) and dsd's
conditioned sampler; the share of AnyNetXC rows whose per-stage group widths differ (drawn columns
vs built columns); and how many demo-regime draws two spaces share under one seed.

    python benchmarks/population_audit.py
"""

from __future__ import annotations

import time

import numpy as np

from dsd.spaces import load_space


def _stats(d: np.ndarray) -> tuple[float, float]:
    return float((d[:, 0] == d[:, 1]).mean()), float(d.sum(1).mean())


def main() -> None:
    xc, xe = load_space("AnyNetXC"), load_space("AnyNetXE")
    rng = np.random.default_rng(0)
    raw = xc.parameters["depth"].draw(rng, (4_000_000, 4))
    filt = raw[np.all(np.diff(raw, axis=1) >= 0, axis=1)]
    srt = np.sort(xc.parameters["depth"].draw(rng, (200_000, 4)), axis=1)
    t0 = time.perf_counter()
    cond = np.array(xe.sample(20_000, seed=0)["depths"].tolist())
    t_cond = time.perf_counter() - t0
    print("AnyNetXE depths (no flop range)")
    print(f"{'population':<38}{'n':>9}{'P(d1=d2)':>10}{'mean sum d':>12}")
    for name, d in (
        ("XC draws filtered (definition)", filt),
        ("sorted independent draws (dsd 0.1)", srt),
        ("dsd conditioned sampler", cond),
    ):
        p, m = _stats(d)
        print(f"{name:<38}{len(d):>9}{p:>10.3f}{m:>12.2f}")
    print(f"(20,000 XE models sampled in {t_cond:.2f} s)\n")

    df = xc.sample(500, flops=(360e6, 400e6), seed=0)
    for col in ("group_widths", "built_group_widths"):
        g = np.array(df[col].tolist())
        differ = float((g != g[:, :1]).any(1).mean())
        outside = float((~np.isin(g, [1, 2, 4, 8, 16, 32])).any(1).mean())
        print(
            f"AnyNetXC 360-400MF, {col:<19}: rows with per-stage g that differ {differ:6.1%}, "
            f"rows with a g outside the domain {outside:6.1%}"
        )

    kw = dict(flops=(1e6, 4e6), resolution=16, num_classes=10, seed=0)
    a = load_space("AnyNetXA").sample(200, **kw)
    c = load_space("AnyNetXC").sample(200, **kw)
    shared = {(tuple(r.depths), tuple(r.widths)) for r in a.itertuples()} & {
        (tuple(r.depths), tuple(r.widths)) for r in c.itertuples()
    }
    print(
        f"\nAnyNetXA vs AnyNetXC, seed 0, 200 each at 1-4 MF/16px: {len(shared)} shared (depths, widths)"
    )


if __name__ == "__main__":
    main()
