"""Per-population tables shared by the CLI and the report: summaries, EDFs, KS matrix, bootstraps, fits.

Each function takes populations as ``{name: results DataFrame}`` (see :func:`dsd.analysis.data.groups`)
and returns plain pandas DataFrames or dicts of result objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from dsd.analysis.data import ERROR, param_values
from dsd.analysis.fit import RegNetFit, block_widths, fit_regnet
from dsd.analysis.stats import EDF, BootstrapResult, bootstrap_best, complexity_weights, edf, ks
from dsd.errors import DsdError

Populations = Mapping[str, pd.DataFrame]


def summary_table(pops: Populations) -> pd.DataFrame:
    """One row a population: n, min / median / mean error, flops range."""
    rows = []
    for name, df in pops.items():
        e = df[ERROR].to_numpy(dtype=float)
        row = {"name": name, "n": len(df), "min": e.min(), "median": np.median(e), "mean": e.mean()}
        if "flops" in df.columns:
            flops = pd.to_numeric(df["flops"], errors="coerce")
            row["flops_min"], row["flops_max"] = flops.min(), flops.max()
        rows.append(row)
    return pd.DataFrame(rows)


def shared_range(pops: Populations, column: str) -> tuple[float, float]:
    """The overlap of all populations' ranges of ``column`` (NDS normalises over a shared range)."""
    lows, highs = [], []
    for name, df in pops.items():
        if column not in df.columns:
            raise DsdError(f"--normalize {column}: population {name} has no column {column!r}")
        v = pd.to_numeric(df[column], errors="coerce")
        lows.append(v.min())
        highs.append(v.max())
    lo, hi = max(lows), min(highs)
    if not lo < hi:
        raise DsdError(f"the populations' {column} ranges do not overlap; give --range LOW:HIGH")
    return float(lo), float(hi)


def population_edfs(
    pops: Populations,
    normalize: str | None = None,
    bins: int = 10,
    range: tuple[float, float] | None = None,
) -> dict[str, EDF]:
    """Error EDF of each population, normalised by complexity ``normalize`` (flops/params) if given."""
    if normalize is None:
        return {name: edf(df[ERROR]) for name, df in pops.items()}
    lo_hi = range or shared_range(pops, normalize)
    out = {}
    for name, df in pops.items():
        try:
            w = complexity_weights(df[normalize].to_numpy(dtype=float), bins=bins, range=lo_hi)
        except DsdError as e:
            raise DsdError(f"{name}: {e}") from None
        out[name] = edf(df[ERROR], weights=w)
    return out


def ks_matrix(edfs: Mapping[str, EDF]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise KS statistic D and p-value between EDFs, as two square DataFrames."""
    names = list(edfs)
    d = pd.DataFrame(0.0, index=names, columns=names)
    p = pd.DataFrame(1.0, index=names, columns=names)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            r = ks(edfs[a], edfs[b])
            d.loc[a, b] = d.loc[b, a] = r.statistic
            p.loc[a, b] = p.loc[b, a] = r.pvalue
    return d, p


def bootstrap_table(
    pops: Populations,
    params: Sequence[str],
    frac: float = 0.25,
    reps: int = 10_000,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[tuple[str, str], tuple[list[str], np.ndarray, BootstrapResult]]]:
    """Bootstrap of the best value of each parameter in each population.

    Returns a table (name, param, low, best, high) and, per (population, parameter), the labels,
    the values and the :class:`BootstrapResult` (for plotting).
    """
    rows, details = [], {}
    for name, df in pops.items():
        e = df[ERROR].to_numpy(dtype=float)
        for p in params:
            labels, values = param_values(df, p)
            r = bootstrap_best(values, e, frac=frac, reps=reps, ci=ci, seed=seed)
            details[(name, p)] = (labels, values, r)
            for j, label in enumerate(labels):
                rows.append(
                    {
                        "name": name,
                        "param": label,
                        "low": float(np.atleast_1d(r.low)[j]),
                        "best": float(np.atleast_1d(r.median)[j]),
                        "high": float(np.atleast_1d(r.high)[j]),
                    }
                )
    return pd.DataFrame(rows, columns=["name", "param", "low", "best", "high"]), details


def top_models(df: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` models of lowest error."""
    return df.sort_values(ERROR, kind="stable").head(top).reset_index(drop=True)


def fit_table(df: pd.DataFrame, top: int = 20) -> tuple[pd.DataFrame, list[RegNetFit]]:
    """Quantized linear fits of the ``top`` best models: a table and the fit objects."""
    for c in ("depths", "widths"):
        if c not in df.columns:
            raise DsdError(f"fit: the results have no {c!r} column")
    best = top_models(df, top)
    fits = [fit_regnet(block_widths(r.depths, r.widths)) for r in best.itertuples()]
    table = pd.DataFrame(
        {
            "model_id": best["model_id"].astype(str),
            "space": best["space"].astype(str),
            ERROR: best[ERROR].to_numpy(dtype=float),
            "d": [f.d for f in fits],
            "w0": [f.w0 for f in fits],
            "wa": [f.wa for f in fits],
            "wm": [f.wm for f in fits],
            "e_fit": [f.e_fit for f in fits],
        }
    )
    return table, fits
