"""Per-population tables shared by the CLI and the report: summaries, KS, bootstraps, fits, best.

Errors are percent in these tables (columns named ``...%``); complexity reads as ``0.563 MF``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from dsd.analysis.data import ERROR, param_values
from dsd.analysis.fit import RegNetFit, block_widths, fit_regnet
from dsd.analysis.population import Population, Populations
from dsd.analysis.stats import EDF, BootstrapResult, bootstrap_best, ks
from dsd.errors import DsdError
from dsd.schema import BEST_COLUMNS

METRIC_NAMES = {
    "top1_err": "top-1 error at the final epoch",
    "top1_err_min": "best top-1 error over epochs (as pycls / nds)",
}
#: How each complexity reads: flops in MF / GF, params and acts in millions.
UNITS = {"flops": "F", "params": "", "acts": ""}


def metric_label(metric: str = ERROR) -> str:
    """How figures and tables name the error metric: ``top1_err (top-1 error at the final epoch, %)``."""
    what = METRIC_NAMES.get(metric)
    return f"{metric} ({what}, %)" if what else f"{metric} (%)"


def complexity_text(value: float, column: str = "flops") -> str:
    """A complexity as people read it: flops ``562506`` -> ``0.563 MF``, params ``5157512`` ->
    ``5.16 M``; NaN -> ``-``."""
    if not np.isfinite(value):
        return "-"
    unit = UNITS.get(column, "")
    scale, prefix = (1e9, "G") if abs(value) >= 1e9 else (1e6, "M")
    return f"{value / scale:.3g} {prefix}{unit}"


def summary_table(pops: Populations, normalised: bool = False) -> pd.DataFrame:
    """One row a population: n, n_eff (Kish, of the normalised EDF when ``normalised``), min% /
    median% / mean% error, flops range, and rows ``read`` and ``excluded``."""
    rows = []
    for name, p in pops.items():
        e = p.errors * 100
        row = {
            "name": name,
            "n": p.n,
            "n_eff": round(p.curve(normalised).n_eff if normalised else float(p.n), 1),
            "min%": e.min(),
            "median%": np.median(e),
            "mean%": e.mean(),
        }
        if "flops" in p.rows.columns:
            flops = pd.to_numeric(p.rows["flops"], errors="coerce")
            row["flops_min"] = complexity_text(flops.min())
            row["flops_max"] = complexity_text(flops.max())
        row["read"], row["excluded"] = p.ledger.read, p.ledger.read - p.ledger.used
        rows.append(row)
    return pd.DataFrame(rows)


def ks_matrix(edfs: Mapping[str, EDF]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise KS statistic D and p-value between EDFs, as two square DataFrames."""
    names = list(edfs)
    d = pd.DataFrame(0.0, index=names, columns=names)
    p = pd.DataFrame(1.0, index=names, columns=names)
    for a, b in combinations(names, 2):
        r = ks(edfs[a], edfs[b])
        d.loc[a, b] = d.loc[b, a] = r.statistic
        p.loc[a, b] = p.loc[b, a] = r.pvalue
    return d, p


def bootstrap_table(
    pops: Populations, params: Sequence[str] | None = None
) -> tuple[pd.DataFrame, dict[tuple[str, str], tuple[list[str], np.ndarray, BootstrapResult]]]:
    """Bootstrap of the best value of each parameter in each population: a table, and per
    (population, parameter) the labels, values and result to plot."""
    o = pops.options
    rows, details = [], {}
    for name, pop in pops.items():
        for p in params if params is not None else o.params:
            labels, values = param_values(pop.rows, p)
            r = bootstrap_best(values, pop.errors, frac=o.frac, reps=o.reps, ci=o.ci, seed=o.seed)
            details[(name, p)] = (labels, values, r)
            for j, label in enumerate(labels):
                low, best, high = (float(np.atleast_1d(v)[j]) for v in (r.low, r.median, r.high))
                rows.append({"name": name, "param": label, "low": low, "best": best, "high": high})
    return pd.DataFrame(rows, columns=["name", "param", "low", "best", "high"]), details


def top_models(df: pd.DataFrame, top: int, metric: str = ERROR) -> pd.DataFrame:
    """The ``top`` models of lowest ``metric``."""
    return df.sort_values(metric, kind="stable").head(top).reset_index(drop=True)


def fit_table(pop: Population, top: int, domain=None) -> tuple[pd.DataFrame, list[RegNetFit]]:
    """Quantized linear fits of the built widths (else ``widths``) of the ``top`` best models of
    one population, within ``domain``: a table (``attrs``: ``domain``, ``regnet``) and the fits."""
    df, metric = pop.rows, pop.metric
    widths = "built_widths" if "built_widths" in df.columns else "widths"
    for c in ("depths", widths):
        if c not in df.columns:
            raise DsdError(f"fit: the results have no {c!r} column")
    best = top_models(df, top, metric)
    fits = [
        fit_regnet(block_widths(d, w), domain=domain)
        for d, w in zip(best["depths"], best[widths], strict=True)
    ]
    table = pd.DataFrame(
        {
            "model_id": best["model_id"].astype(str),
            "space": best["space"].astype(str),
            f"{metric}%": best[metric].to_numpy(dtype=float) * 100,
            **{k: [getattr(f, k) for f in fits] for k in ("d", "w0", "wa", "wm", "e_fit")},
            "in_space": [f.in_space for f in fits],
            "outside": [",".join(f.outside_space) for f in fits],
            "at_bound": [",".join(f.at_bound) for f in fits],
        }
    )
    # every row drawn as a RegNet (finite w0, wa, wm): e_fit 0 by construction
    drawn = df.reindex(columns=["w0", "wa", "wm"]).apply(pd.to_numeric, errors="coerce")
    regnet = bool(len(df)) and bool(np.isfinite(drawn.to_numpy(dtype=float)).all())
    table.attrs.update(domain=fits[0].domain if fits else "", regnet=regnet)
    return table, fits


def fit_tables(
    pops: Populations,
) -> tuple[pd.DataFrame, dict[str, tuple[pd.DataFrame, list[RegNetFit]]]]:
    """:func:`fit_table` of each population (the paper fits the best models *of a space*): the
    tables stacked (``attrs``: ``domain``, ``notes``), and each population's table and fits."""
    o = pops.options
    each = {}
    for name, pop in pops.items():
        table, fits = fit_table(pop, o.top, o.fit_domain)
        if o.by != "space":
            table.insert(2, o.by, name)
        each[name] = (table, fits)
    parts = [t for t, _ in each.values()]
    table = pd.concat(parts, ignore_index=True)
    notes = [
        f"{name}: its models are RegNets (drawn as w0, wa, wm): e_fit is 0 by construction for "
        "their drawn widths (the built widths may differ after the compatibility rule)"
        for name, part in zip(pops, parts, strict=True)
        if part.attrs["regnet"]
    ]
    table.attrs.update(domain=parts[0].attrs["domain"], notes=notes)
    return table, each


def fit_names(table: pd.DataFrame, metric: str = ERROR) -> list[str]:
    """Legend names of fitted models: space and error (``AnyNetXE 12.3%``), not their hash."""
    err = table[f"{metric}%"]
    return [f"{s} {e:.1f}%" for s, e in zip(table["space"], err, strict=True)]


def best_table(pops: Populations, top: int) -> pd.DataFrame:
    """The ``top`` best models of each population, as drawn and as built."""
    metric = pops.metric
    best = pd.concat([top_models(p.rows, top, metric) for p in pops.values()], ignore_index=True)
    columns = [metric if c == ERROR else c for c in BEST_COLUMNS]
    best = best[[c for c in columns if c in best.columns]].astype(object)
    best[metric] = best[metric].astype(float) * 100
    for c in UNITS:
        if c in best.columns:
            best[c] = [complexity_text(v, c) for v in pd.to_numeric(best[c], errors="coerce")]
    return best.rename(columns={metric: f"{metric}%"})
