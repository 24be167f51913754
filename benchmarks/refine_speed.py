"""Speed of ``dsd refine`` (issue 10's target: 500 models, all default candidates, < 10 s).

    python benchmarks/refine_speed.py [--n 500] [--repeats 3]

Populations are sampled at 360-400MF with synthetic errors (independent of the design), then
refined with every default candidate and 1000 bootstrap draws (the splits they make tested,
the verdicts reached, the "improves" compared pairwise for explanations). Warm, in-process
timings (median of repeats). The baseline, measured in the same run, is the cheapest possible
pass over the same candidates: one plain ``scipy.stats.ks_2samp`` per candidate (no
normalisation, no bootstrap, no exact sizes); the ratio is what to quote, absolute times on
shared machines are noise.
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import timed
from scipy import stats

from dsd.analysis import default_candidates, refine
from dsd.analysis.candidates import design_arrays
from dsd.spaces import load_space


def population(space: str, n: int, seed: int = 0):
    """``n`` models of ``space`` at 360-400MF with errors ~ N(0.5, 0.03) independent of the design."""
    df = load_space(space).sample(n, flops=(360e6, 400e6), seed=seed)
    df["top1_err"] = np.random.default_rng(seed).normal(0.5, 0.03, len(df))
    df["status"] = "ok"
    return df


def baseline(df, space) -> None:
    """One plain KS test per default candidate."""
    design = design_arrays(df, space)
    e = df["top1_err"].to_numpy()
    for c in default_candidates(space, design):
        m = c.holds(space, design)
        if 1 < m.sum() < len(m) - 1:
            stats.ks_2samp(e[m], e[~m])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for name in ("AnyNetXA", "AnyNetXC", "AnyNetXE", "RegNetX"):
        space = load_space(name)
        df = population(name, args.n)
        table = refine(df, space)
        t = timed(lambda df=df, space=space: refine(df, space), args.repeats)
        b = timed(lambda df=df, space=space: baseline(df, space), args.repeats)
        rows.append((name, len(df), table.attrs["tests"], t, b, t / b))
    print(f"dsd refine, {args.n} models, all default candidates, 1000 bootstrap draws")
    print(
        f"{'space':<10} {'models':>6} {'tests':>6} {'refine s':>9} {'ks-only s':>10} {'ratio':>6}"
    )
    for name, n, k, t, b, r in rows:
        print(f"{name:<10} {n:>6} {k:>6} {t:>9.3f} {b:>10.3f} {r:>6.1f}")
    worst = max(r[3] for r in rows)
    print(f"target < 10 s: {'met' if worst < 10 else 'NOT met'} (slowest {worst:.2f} s)")


if __name__ == "__main__":
    main()
