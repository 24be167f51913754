"""Per-population tables shared by the CLI and the report: summaries, EDFs, KS matrix, bootstraps, fits.

Each function takes populations as ``{name: results DataFrame}`` (see :func:`dsd.analysis.data.groups`)
and returns plain pandas DataFrames or dicts of result objects. ``metric`` names the error column
(default ``top1_err``); errors in tables are in percent, as in the paper.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dsd.analysis.data import ERROR, param_values, regime_range
from dsd.analysis.fit import RegNetFit, block_widths, fit_regnet
from dsd.analysis.stats import EDF, BootstrapResult, bootstrap_best, complexity_weights, edf, ks
from dsd.errors import DsdError

Populations = Mapping[str, pd.DataFrame]

METRIC_NAMES = {
    "top1_err": "top-1 error at the final epoch",
    "top1_err_min": "best top-1 error over epochs (as pycls / nds)",
}


def metric_label(metric: str = ERROR) -> str:
    """How figures and tables name the error metric, e.g. ``top1_err (top-1 error at the final epoch, %)``."""
    what = METRIC_NAMES.get(metric)
    return f"{metric} ({what}, %)" if what else f"{metric} (%)"


def summary_table(
    pops: Populations, metric: str = ERROR, edfs: Mapping[str, EDF] | None = None
) -> pd.DataFrame:
    """One row a population: n, effective n, min% / median% / mean% error (percent), flops range.

    ``n_eff`` is the Kish effective size of the EDF's weights when normalised ``edfs`` are given
    (models outside the range have weight 0), else ``n``.
    """
    rows = []
    for name, df in pops.items():
        e = df[metric].to_numpy(dtype=float) * 100
        n_eff = edfs[name].n_eff if edfs is not None else float(len(df))
        row = {
            "name": name,
            "n": len(df),
            "n_eff": round(n_eff, 1),
            "min%": e.min(),
            "median%": np.median(e),
            "mean%": e.mean(),
        }
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


@dataclass(frozen=True)
class Normalisation:
    """How normalised EDFs are weighted: ``column`` split into ``bins`` equal bins over ``range``.

    ``source`` says where the range came from: ``"given"``, ``"regime"`` (the complexity range the
    populations were sampled in, from their ``regime`` column) or ``"data"`` (the overlap of the
    populations' min..max, used when no regime is recorded). ``requested_bins`` > ``bins`` when a
    requested bin had no models and the largest bin count without an empty bin was used instead.
    """

    column: str
    range: tuple[float, float]
    bins: int
    requested_bins: int
    source: str
    empty: str = ""
    #: The weights of each population's models (computed while choosing the bin count).
    weights: Mapping[str, np.ndarray] = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def note(self) -> str:
        """One sentence describing the weighting (and any reduction of the bin count)."""
        lo, hi = self.range
        where = {"given": "given", "regime": "the sampling regime's", "data": "the data's shared"}
        text = (
            f"Models weighted so that {self.column} is uniform over {self.bins} bins of "
            f"{where[self.source]} range [{lo:.4g}, {hi:.4g}] (NDS); models outside get weight 0."
        )
        if self.bins < self.requested_bins:
            text += (
                f" {self.requested_bins} bins were requested but {self.empty}; drawn with "
                f"{self.bins}, the largest bin count without an empty bin."
            )
        return text


def _weights(df: pd.DataFrame, column: str, bins: int, lo_hi: tuple[float, float]) -> np.ndarray:
    """Complexity weights of ``df``'s rows (raises DsdError on an empty bin)."""
    return complexity_weights(pd.to_numeric(df[column]).to_numpy(dtype=float), bins, lo_hi)


def normalisation(
    pops: Populations,
    column: str,
    bins: int = 10,
    range: tuple[float, float] | None = None,
    reduce_bins: bool = True,
) -> Normalisation:
    """The weighting of normalised EDFs by ``column``: its range, source and bin count.

    The range is ``range`` if given, else the populations' sampling regime (all populations must
    name one; their overlap is used), else the overlap of their min..max. With ``reduce_bins``,
    an empty bin makes the bin count drop to the largest one that leaves no population with an
    empty bin (the reason is kept in ``empty``); without it, an empty bin raises DsdError.
    """
    if bins < 1:
        raise DsdError(f"bins must be >= 1, got {bins}")
    for name, df in pops.items():
        if column not in df.columns:
            raise DsdError(f"--normalize {column}: population {name} has no column {column!r}")
    if range is not None:
        lo_hi, source = (float(range[0]), float(range[1])), "given"
    else:
        regimes = [regime_range(df, column) for df in pops.values()]
        if regimes and all(r is not None for r in regimes):
            lo_hi = (max(r[0] for r in regimes), min(r[1] for r in regimes))
            source = "regime"
            if not lo_hi[0] < lo_hi[1]:
                raise DsdError(f"the populations' {column} regimes do not overlap; give a range")
        else:
            lo_hi, source = shared_range(pops, column), "data"
    first_error = ""
    for b in np.arange(bins, 0, -1) if reduce_bins else (bins,):
        try:
            weights = _all_weights(pops, column, int(b), lo_hi)
        except DsdError as e:
            if not reduce_bins or b == 1:
                raise
            first_error = first_error or str(e).split(";")[0]
            continue
        return Normalisation(column, lo_hi, int(b), bins, source, first_error, weights)
    raise AssertionError("unreachable")  # pragma: no cover


def _all_weights(pops: Populations, column: str, bins: int, lo_hi) -> dict[str, np.ndarray]:
    """Each population's NDS weights; an empty bin is a DsdError naming the population."""
    out = {}
    for name, df in pops.items():
        try:
            out[name] = _weights(df, column, bins, lo_hi)
        except DsdError as e:
            raise DsdError(f"{name}: {e}") from None
    return out


def population_edfs(
    pops: Populations,
    normalize: str | None = None,
    bins: int = 10,
    range: tuple[float, float] | None = None,
    metric: str = ERROR,
) -> dict[str, EDF]:
    """Error EDF of each population, normalised by complexity ``normalize`` (flops/params) if given.

    ``range`` defaults as in :func:`normalisation`; an empty bin raises DsdError (use
    :func:`normalisation` to find a bin count without one).
    """
    if normalize is None:
        return {name: edf(df[metric]) for name, df in pops.items()}
    return normalised_edfs(
        pops, normalisation(pops, normalize, bins, range, reduce_bins=False), metric
    )


def normalised_edfs(pops: Populations, norm: Normalisation, metric: str = ERROR) -> dict[str, EDF]:
    """Each population's error EDF weighted as ``norm`` (from :func:`normalisation`) says."""
    return {name: edf(df[metric], weights=norm.weights[name]) for name, df in pops.items()}


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
    metric: str = ERROR,
) -> tuple[pd.DataFrame, dict[tuple[str, str], tuple[list[str], np.ndarray, BootstrapResult]]]:
    """Bootstrap of the best value of each parameter in each population.

    Returns a table (name, param, low, best, high) and, per (population, parameter), the labels,
    the values and the :class:`BootstrapResult` (for plotting).
    """
    rows, details = [], {}
    for name, df in pops.items():
        e = df[metric].to_numpy(dtype=float)
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


def top_models(df: pd.DataFrame, top: int, metric: str = ERROR) -> pd.DataFrame:
    """The ``top`` models of lowest ``metric``."""
    return df.sort_values(metric, kind="stable").head(top).reset_index(drop=True)


def fit_table(
    df: pd.DataFrame, top: int = 20, metric: str = ERROR
) -> tuple[pd.DataFrame, list[RegNetFit]]:
    """Quantized linear fits of the ``top`` best models: a table and the fit objects.

    The fitted widths are the built ones (``built_widths``, after the compatibility rule) when
    the rows have them, else ``widths``. ``in_space`` says whether the fit lies in the RegNet
    space's ranges (else ``outside`` names the parameters that leave them), ``at_bound`` which
    search limit the optimum touched (empty: none). Errors are in percent.
    """
    widths = "built_widths" if "built_widths" in df.columns else "widths"
    for c in ("depths", widths):
        if c not in df.columns:
            raise DsdError(f"fit: the results have no {c!r} column")
    best = top_models(df, top, metric)
    fits = [
        fit_regnet(block_widths(d, w)) for d, w in zip(best["depths"], best[widths], strict=True)
    ]
    table = pd.DataFrame(
        {
            "model_id": best["model_id"].astype(str),
            "space": best["space"].astype(str),
            f"{metric}%": best[metric].to_numpy(dtype=float) * 100,
            "d": [f.d for f in fits],
            "w0": [f.w0 for f in fits],
            "wa": [f.wa for f in fits],
            "wm": [f.wm for f in fits],
            "e_fit": [f.e_fit for f in fits],
            "in_space": [f.in_space for f in fits],
            "outside": [",".join(f.outside_space) for f in fits],
            "at_bound": [",".join(f.at_bound) for f in fits],
        }
    )
    return table, fits


def fit_names(table: pd.DataFrame, metric: str = ERROR) -> list[str]:
    """Legend names of fitted models: space and error (``AnyNetXE 12.3%``), not their hash."""
    err = table[f"{metric}%"]
    return [f"{s} {e:.1f}%" for s, e in zip(table["space"], err, strict=True)]
