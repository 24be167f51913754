"""Population audit: the sampling semantics of dsd against the alternatives it replaced.

Prints, for AnyNetXE (no flop range), the depth statistics of three populations: XC draws filtered
by the constraint (the definition), sorted independent draws (order statistics, dsd 0.1) and dsd's
conditioned sampler; the share of AnyNetXC rows whose per-stage group widths differ (drawn columns
vs built columns); how many demo-regime draws two spaces share under one seed; and RegNet
sampling: P(g = 32) of 3,000 RegNetX models at 360-400MF against the sampling distribution,
de-duplicated on the drawn design (dsd now, as the reference sweep) or on the built network
(dsd before schema 3), and the stage counts of a num_stages [3, 4] space.

    python benchmarks/population_audit.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

from dsd.spaces import load_space

FLOPS = {"flops": (360e6, 400e6)}


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
    regnet_sampling()


def _in_regime(space, seed: int, n: int) -> tuple[np.ndarray, list[bytes]]:
    """g and the built network of independent draws of ``space`` in the regime, in draw order
    (the sampling distribution, before any de-duplication)."""
    rng, g, built = np.random.default_rng(seed), [], []
    while len(g) < n:
        for batch in space.draw(rng, 1 << 17):
            kept = space._accepted(batch, FLOPS)
            g += kept["group_width"].tolist()
            cols = ("depths", "built_widths", "built_group_widths", "bottleneck_ratios")
            mat = np.concatenate([np.asarray(kept[c], dtype=float) for c in cols], axis=1)
            built += [row.tobytes() for row in mat]  # one stage count: rows of equal length
    return np.array(g[:n]), built[:n]


def regnet_sampling(n: int = 3000) -> None:
    """P(g = 32) and a KS test against the sampling distribution, per de-duplication rule."""
    space = load_space("RegNetX")
    ref, _ = _in_regime(space, 999, 100_000)
    print(
        f"\nRegNetX, {n} models at 360-400MF (sampling distribution: P(g=32) = {np.mean(ref == 32):.3f})"
    )
    print(f"{'de-duplicated on':<34}{'seed':>5}{'P(g=32)':>9}{'KS p':>10}")
    for seed in (0, 1):
        g = space.sample(n, seed=seed, **FLOPS)["group_width"].to_numpy()
        print(
            f"{'the drawn design (dsd, pycls)':<34}{seed:>5}{np.mean(g == 32):>9.3f}"
            f"{stats.ks_2samp(g, ref).pvalue:>10.2g}"
        )
        draws, built = _in_regime(space, 100 + seed, 4 * n)
        seen, kept = set(), []
        for value, key in zip(draws, built, strict=True):
            if key not in seen and len(kept) < n:
                seen.add(key)
                kept.append(value)
        first = np.array(kept)
        print(
            f"{'the built network (dsd before)':<34}{seed:>5}{np.mean(first == 32):>9.3f}"
            f"{stats.ks_2samp(first, ref).pvalue:>10.2g}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "stages.yaml"
        f.write_text("name: Stages\nextends: RegNet\nconstraints: {num_stages: [3, 4]}\n")
        counts = load_space(f).sample(20_000, seed=0)["depths"].map(len)
    print(
        f"RegNet, num_stages [3, 4], 20,000 models: {np.mean(counts == 3):.3f} have 3 stages "
        "(the reference sampler's algorithm: 0.436; dsd before: 0)"
    )


if __name__ == "__main__":
    main()
