"""Error rates of ``dsd refine`` on tables whose truth is known (issue 16 item 4).

    python benchmarks/refine_rates.py [--null 100] [--planted 20] [--loss 40] [--reps 1000]

Populations are drawn with the real sampler (AnyNetXA, 360-400MF) and given a made-up error:
``0.5 + N(0, 0.03)`` plus an effect of the design. Seeds are fixed (table ``i`` uses seed ``i``),
so the numbers below are reproducible. Three worlds:

- **planted** (600 models): error +0.08 unless the widths are non-decreasing. Reported: the
  share of tables whose first row is ``non-decreasing widths: improves``, and the mean number of
  other candidates called ``improves`` (and not marked as explained by a stronger one).
- **null** (400 models): error independent of the design. Reported: the share of tables with any
  ``improves`` (each one false) and with any ``hurts``, and the mean share of rows called
  ``no loss`` (each one true: no candidate loses anything).
- **loss** (400 models): error +``loss`` for models whose depths are non-decreasing, ``loss``
  1.5x the tolerance (0.015) and at the tolerance (0.01, the boundary of the null hypothesis of
  "no loss"). Reported: the share of tables that call ``non-decreasing depths`` ``no loss``.

A share of k of N tables is printed with its 95% Clopper-Pearson interval.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from dsd.analysis import refine
from dsd.spaces import load_space

FLOPS = (360e6, 400e6)
TOLERANCE = 0.01


def population(n: int, seed: int, effect=None, sd: float = 0.03):
    """``n`` AnyNetXA models at 360-400MF; error 0.5 + N(0, sd) (+ ``effect(df)``)."""
    df = load_space("AnyNetXA").sample(n, flops=FLOPS, seed=seed)
    rng = np.random.default_rng(1000 + seed)
    df["top1_err"] = 0.5 + rng.normal(0, sd, len(df)) + (0 if effect is None else effect(df))
    df["status"] = "ok"
    return df


def ordered(df, column: str) -> np.ndarray:
    """Rows whose per-stage ``column`` is non-decreasing."""
    return np.all(np.diff(np.array(df[column].tolist()), axis=1) >= 0, axis=1)


def share(k: int, n: int) -> str:
    """``k/n = x% [lo, hi]`` (Clopper-Pearson 95%)."""
    ci = stats.binomtest(k, n).proportion_ci(0.95)
    return f"{k}/{n} = {100 * k / n:.1f}% [{100 * ci.low:.1f}, {100 * ci.high:.1f}]"


def unexplained_improves(table) -> np.ndarray:
    """Rows called improves and not explained by a stronger candidate."""
    imp = table["verdict"] == "improves"
    if "explained_by" in table.columns:
        imp &= table["explained_by"].fillna("") == ""
    return imp.to_numpy()


def planted(tables: int, reps: int) -> str:
    first, others = 0, []
    for seed in range(tables):
        df = population(600, seed, lambda d: 0.08 * ~ordered(d, "widths"))
        t = refine(df, "AnyNetXA", reps=reps, seed=seed)
        top = t.iloc[0]
        first += top["candidate"] == "non-decreasing widths" and top["verdict"] == "improves"
        others.append(int(unexplained_improves(t).sum()) - 1)
    return (
        f"planted (600 models, +0.08 unless widths non-decreasing): found first in "
        f"{share(first, tables)}; other unexplained 'improves' per table: mean "
        f"{np.mean(others):.1f}, max {max(others)}"
    )


def null(tables: int, reps: int) -> str:
    improves = hurts = tests = 0
    no_loss = []
    for seed in range(tables):
        t = refine(population(400, seed), "AnyNetXA", reps=reps, seed=seed)
        improves += bool((t["verdict"] == "improves").any())
        hurts += bool((t["verdict"] == "hurts").any())
        tests += t.attrs["tests"]
        no_loss.append(float((t["verdict"] == "no loss").mean()))
    return (
        f"null (400 models, error independent of the design, {tests / tables:.0f} tests a "
        f"table): any 'improves' {share(improves, tables)}; any 'hurts' {share(hurts, tables)}; "
        f"rows called 'no loss' (all true here): mean {100 * np.mean(no_loss):.0f}%"
    )


def loss(tables: int, reps: int, size: float) -> str:
    called = 0
    for seed in range(tables):
        df = population(400, seed, lambda d: size * ordered(d, "depths"))
        t = refine(df, "AnyNetXA", reps=reps, seed=seed, tolerance=TOLERANCE)
        row = t[t["candidate"] == "non-decreasing depths"]
        called += bool((row["verdict"] == "no loss").any())
    return (
        f"loss {size:g} (tolerance {TOLERANCE:g}, 400 models): 'non-decreasing depths' called "
        f"'no loss' in {share(called, tables)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--null", type=int, default=100, help="null tables (100)")
    ap.add_argument("--planted", type=int, default=20, help="planted-effect tables (20)")
    ap.add_argument("--loss", type=int, default=40, help="planted-loss tables per size (40)")
    ap.add_argument("--reps", type=int, default=1000, help="bootstrap draws (1000)")
    args = ap.parse_args()
    start = time.perf_counter()
    if args.planted:
        print(planted(args.planted, args.reps), flush=True)
    if args.null:
        print(null(args.null, args.reps), flush=True)
    for size in (1.5 * TOLERANCE, TOLERANCE) if args.loss else ():
        print(loss(args.loss, args.reps, size), flush=True)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
