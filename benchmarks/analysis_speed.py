"""Analysis speed (issue 5's targets), printed as a table.

    python benchmarks/analysis_speed.py [--repeats 5] [--fits 50]

Warm, in-process timings (median of repeats). Targets: ``bootstrap_best`` with 10^4 repetitions
over 500 models in <= 0.1 s, ``fit_regnet`` <= 0.2 s per model (within the RegNet space, the
default, and unbounded). The bootstrap baseline is the naive way, measured in the same run: one
Python-level draw and argmin per repetition; loading populations (read, validate every known
column, ledger, EDFs) is set against reading the file alone; the normalisation's bin search at
``--bins 1000`` is bounded by the population size. Ratios are what to quote; absolute times on
shared machines are noise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import timed

from dsd.analysis import (
    UNBOUNDED,
    bootstrap_best,
    edf,
    fit_regnet,
    load_populations,
    quantized_linear_widths,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from analysis_fixtures import synthetic_results


def naive_bootstrap(x, e, frac=0.25, reps=10_000, seed=0):
    """The loop version of the bootstrap of the best value (for the baseline only)."""
    rng = np.random.default_rng(seed)
    n, m = len(e), max(1, round(frac * len(e)))
    best = []
    for _ in range(reps):
        idx = rng.integers(0, n, m)
        best.append(x[idx[np.argmin(e[idx])]])
    return np.quantile(best, [0.025, 0.5, 0.975])


def regnet_cases(count: int, seed: int = 0) -> list[np.ndarray]:
    """Per-block widths of random 4-stage RegNets (pycls's sampling ranges)."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        d = int(rng.integers(12, 29))
        w0 = int(np.round(np.exp(rng.uniform(np.log(8), np.log(256))) / 8) * 8)
        wa = round(float(np.exp(rng.uniform(np.log(8), np.log(256)))), 1)
        wm = round(float(np.exp(rng.uniform(np.log(1.5), np.log(3)))), 3)
        w = quantized_linear_widths(d, w0, wa, wm)
        if len(np.unique(w)) == 4:
            out.append(w)
    return out


def anynet_cases(count: int, seed: int = 0) -> list[np.ndarray]:
    """Per-block widths of random 4-stage AnyNets (no exact fit exists: the slow path)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        depths = rng.integers(1, 17, 4)
        widths = np.sort(rng.integers(1, 129, 4)) * 8
        out.append(np.repeat(widths, depths))
    return out


def per_fit(cases: list[np.ndarray], domain=None) -> tuple[float, float, int, int, float]:
    """Mean and max seconds per fit, exact fits, fits on a search limit, mean e_fit."""
    times, exact, bound, errs = [], 0, 0, []
    for w in cases:
        t = time.perf_counter()
        fit = fit_regnet(w, domain=domain)
        times.append(time.perf_counter() - t)
        exact += fit.e_fit == 0
        bound += bool(fit.at_bound)
        errs.append(fit.e_fit)
    return statistics.mean(times), max(times), exact, bound, float(np.mean(errs))


def main() -> None:
    """Run the benchmarks and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fits", type=int, default=50, help="RegNets to fit")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x, e = rng.integers(1, 17, 500).astype(float), rng.random(500)
    fast = timed(lambda: bootstrap_best(x, e, reps=10_000, seed=0), args.repeats)
    slow = timed(lambda: naive_bootstrap(x, e), max(1, args.repeats // 2))
    stages = rng.integers(1, 17, (500, 4)).astype(float)
    per_stage = timed(lambda: bootstrap_best(stages, e, reps=10_000, seed=0), args.repeats)
    errs = rng.random(500)
    band = timed(lambda: edf(errs).confidence_band(method="bootstrap", reps=1000), args.repeats)

    reg_mean, reg_max, reg_exact, _, _ = per_fit(regnet_cases(args.fits))
    any_mean, any_max, _, any_bound, any_err = per_fit(anynet_cases(args.fits))
    free_mean, free_max, _, free_bound, free_err = per_fit(anynet_cases(args.fits), UNBOUNDED)
    n = args.fits
    load, read, norm = _loading(args.repeats)

    rows = [
        ("bootstrap_best 10^4 x 500 (vectorised)", f"{fast * 1e3:9.1f} ms", "target <= 100 ms"),
        (
            "bootstrap_best 10^4 x 500 (Python loop)",
            f"{slow * 1e3:9.1f} ms",
            f"{slow / fast:.0f}x slower",
        ),
        ("bootstrap_best 10^4 x 500 x 4 stages", f"{per_stage * 1e3:9.1f} ms", ""),
        ("EDF bootstrap band, 1000 reps x 500", f"{band * 1e3:9.1f} ms", ""),
        (
            f"fit_regnet per RegNet (mean of {n})",
            f"{reg_mean * 1e3:9.1f} ms",
            f"target <= 200 ms; max {reg_max * 1e3:.0f} ms; {reg_exact}/{n} exact",
        ),
        (
            f"fit_regnet per AnyNet (mean of {n})",
            f"{any_mean * 1e3:9.1f} ms",
            f"target <= 200 ms; max {any_max * 1e3:.0f} ms; mean e_fit {any_err:.3f}; "
            f"{any_bound}/{n} on a limit of the RegNet space",
        ),
        (
            f"fit_regnet per AnyNet, unbounded (mean of {n})",
            f"{free_mean * 1e3:9.1f} ms",
            f"max {free_max * 1e3:.0f} ms; mean e_fit {free_err:.3f}; "
            f"{free_bound}/{n} on a search limit",
        ),
        (
            "load_populations, 5000 rows (validate, ledger, EDFs)",
            f"{load * 1e3:9.1f} ms",
            f"{load / read:.1f}x reading the parquet file alone ({read * 1e3:.0f} ms)",
        ),
        ("normalise 5000 rows by flops, --bins 1000", f"{norm * 1e3:9.1f} ms", "bounded search"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'time':>12}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>12}  {note}")


def _loading(repeats: int) -> tuple[float, float, float]:
    """Seconds to load 5000 results rows into populations, to read the file alone, and to
    normalise them with 1000 bins requested (the bin search starts at the population size)."""
    df = pd.concat(
        [synthetic_results(1000, f"S{i}", i, failed=0, regime=(0, 4e10)) for i in range(5)]
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.parquet"
        df.to_parquet(path, index=False)
        load = timed(lambda: load_populations(path), repeats)
        read = timed(lambda: pd.read_parquet(path), repeats)
        norm = timed(lambda: load_populations(path, normalise="flops", bins=1000), 1)
    return load, read, norm


if __name__ == "__main__":
    main()
