"""How ``dsd refine`` tests a split of a population, and how it reaches verdicts.

A candidate (:mod:`dsd.analysis.candidates`) cuts a population into two sides: the models that
satisfy it (``in``) and the rest (``out``). :func:`test_split` compares them:

- EDFs normalised by flops as in NDS, each side over the same bins of the population's range
  (:func:`side_weights`: the largest bin count up to ``bins`` that leaves no bin of either side
  empty, the search bounded by the smaller side's size; 1 bin = plain);
- the KS distance ``D`` between the sides (and ``D_whole`` between ``in`` and the whole
  population) and its p-value (:func:`dsd.analysis.stats.ks`);
- the difference ``in - out`` of the normalised EDF's 25th percentile (how good the good models
  are) with a percentile bootstrap interval: :class:`Resamples` of the whole population, drawn
  once and shared by every split, each cut into its two sides (NDS weights kept).

:func:`judge` adjusts the p-values of all splits for their number (Benjamini-Hochberg,
``scipy.stats.false_discovery_control``) and gives each split its verdict (:func:`verdict`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from dsd.analysis.population import normalisation
from dsd.analysis.stats import edf, kish_size, ks, ks_models_needed, ks_power

VERDICTS = ("improves", "no loss", "inconclusive", "hurts")
CORRECTION = "Benjamini-Hochberg"
#: The statistic compared between the sides: this quantile of the normalised error EDF.
QUANTILE = 0.25
#: The statistics of a split that has models on both sides (NaN otherwise).
STATISTICS = ("D", "D_whole", "p", "stat_in", "stat_out", "diff", "ci_low", "ci_high")


@dataclass(frozen=True, eq=False)
class Resamples:
    """``reps`` bootstrap resamples of the whole population, drawn once and shared by every split:
    ``counts[r, i]`` = copies of model ``order[i]`` (models sorted by error) in resample ``r``.
    A split's two sides are the restrictions of each resample, so the side sizes vary between
    resamples as they do between populations."""

    order: np.ndarray
    counts: np.ndarray

    @classmethod
    def draw(cls, errors: np.ndarray, reps: int, rng: np.random.Generator) -> Resamples:
        """``reps`` resamples of the models with errors ``errors``."""
        n = errors.size
        order = np.argsort(errors, kind="stable")
        idx = rng.integers(0, n, size=(reps, n))
        flat = (np.arange(reps)[:, None] * n + idx).ravel()
        counts = np.bincount(flat, minlength=reps * n).reshape(reps, n).astype(np.float64)
        return cls(order, counts)

    def quantile(self, errors: np.ndarray, side: np.ndarray, w: np.ndarray, q: float) -> np.ndarray:
        """The weighted ``q``-quantile of the side ``side`` (bool mask over the models, ``w`` the
        weights of its models in model order) in every resample; NaN where a resample has none."""
        pos = np.flatnonzero(side[self.order])  # columns of this side, ascending error
        ws = np.zeros(side.size)
        ws[side] = w
        ws = ws[self.order][pos]
        es = errors[self.order][pos]
        cw = self.counts[:, pos] * ws
        tot = cw.sum(axis=1)
        # Only the first columns are summed: those holding q (+ margin) of the side's weight.
        share = np.cumsum(ws) / ws.sum()
        k = min(pos.size, int(np.searchsorted(share, min(1.0, 2 * q + 0.1))) + 1)
        cum = np.cumsum(cw[:, :k], axis=1)
        target = q * tot * (1 - 1e-12)
        hit = cum >= target[:, None]
        found = hit.any(axis=1)
        j = np.argmax(hit, axis=1)
        if not found.all():
            rest = np.flatnonzero(~found)
            j[rest] = np.argmax(np.cumsum(cw[rest], axis=1) >= target[rest, None], axis=1)
        return np.where(tot > 0, es[j], np.nan)


@dataclass(frozen=True, eq=False)
class Sample:
    """The population as its splits are tested: ``errors`` and ``flops`` of the models inside the
    normalisation ``range``, the shared :class:`Resamples` and the whole population's weights."""

    errors: np.ndarray
    flops: np.ndarray
    range: tuple[float, float]
    resamples: Resamples
    whole: np.ndarray

    @classmethod
    def of(cls, errors, flops, lo_hi, bins: int, reps: int, seed: int) -> Sample:
        """The sample of these models (all inside ``lo_hi``), its resamples drawn from ``seed``."""
        boot = Resamples.draw(errors, reps, np.random.default_rng(seed))
        whole = side_weights(flops, [np.ones(errors.size, bool)], bins, lo_hi)[0][0]
        return cls(errors, flops, lo_hi, boot, whole)

    @property
    def n(self) -> int:
        """Models tested."""
        return int(self.errors.size)


def side_weights(
    flops: np.ndarray, sides: Sequence[np.ndarray], bins: int, lo_hi: tuple[float, float]
) -> tuple[list[np.ndarray], int]:
    """NDS weights of each side (bool masks) over shared bins of ``lo_hi``, and the bin count
    used: the largest up to ``bins`` with no empty bin on either side
    (:func:`dsd.analysis.population.normalisation`, bounded by the smaller side's size)."""
    frames = {i: pd.DataFrame({"flops": flops[s]}) for i, s in enumerate(sides)}
    norm = normalisation(frames, "flops", bins, range=lo_hi)
    return [norm.weights[i] for i in range(len(sides))], norm.bins


def test_split(inside: np.ndarray, sample: Sample, bins: int) -> dict[str, Any]:
    """The statistics of one split: ``inside`` (bool mask) against the rest of ``sample``."""
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    row: dict[str, Any] = {"n_in": n_in, "n_out": n_out, "share_pop": n_in / max(sample.n, 1)}
    if n_in < 2 or n_out < 2:
        return {**row, **dict.fromkeys(STATISTICS, math.nan), "bins": 0, "m_eff": 0.0}
    e, boot = sample.errors, sample.resamples
    (w_in, w_out), b = side_weights(sample.flops, [inside, ~inside], bins, sample.range)
    f_in, f_out = edf(e[inside], w_in), edf(e[~inside], w_out)
    r = ks(f_in, f_out)
    s_in, s_out = f_in.quantile(QUANTILE), f_out.quantile(QUANTILE)
    diffs = boot.quantile(e, inside, w_in, QUANTILE) - boot.quantile(e, ~inside, w_out, QUANTILE)
    lo, hi = np.nanquantile(diffs, [0.025, 0.975])
    n1, n2 = kish_size(w_in), kish_size(w_out)
    return {
        **row,
        "D": r.statistic,
        "D_whole": ks(f_in, edf(e, sample.whole)).statistic,
        "p": r.pvalue,
        "stat_in": s_in,
        "stat_out": s_out,
        "diff": s_in - s_out,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "bins": b,
        "m_eff": n1 * n2 / (n1 + n2),
    }


def judge(
    table: pd.DataFrame, n: int, alpha: float, tolerance: float, power: float, min_models: int
) -> pd.DataFrame:
    """``table`` (one row a split, from :func:`test_split`) with the adjusted p-values
    (``p_adj``), the power of each split to see ``DIFFERENCE`` among the tests, ``n_needed``
    (the population size at which the observed D would be resolved with ``power``) and the
    ``verdict``, best first (:func:`order`)."""
    table = table.copy()
    ok = table["D"].notna()
    table["p_adj"] = np.nan
    if ok.any():
        table.loc[ok, "p_adj"] = sps.false_discovery_control(table.loc[ok, "p"], method="bh")
    level = alpha / max(int(ok.sum()), 1)
    table["power"] = [_power(m, level) for m in table["m_eff"]]
    table["n_needed"] = [
        _needed(d, m, n, level, power) for d, m in zip(table["D"], table["m_eff"], strict=True)
    ]
    table["verdict"] = [verdict(r, alpha, tolerance, min_models) for r in table.itertuples()]
    return order(table)


def _power(m_eff: float, level: float) -> float:
    """The power of a split of effective size ``m_eff`` to see a KS difference of 0.2."""
    return ks_power(2 * m_eff, 2 * m_eff, alpha=level) if m_eff > 0 else 0.0


def _needed(d: float, m_eff: float, n: int, level: float, power: float) -> float:
    """Models the population would need for this split to resolve a KS difference ``d``."""
    if not (m_eff > 0 and d > 0) or not np.isfinite(d):
        return math.inf
    return math.ceil(n * ks_models_needed(min(d, 1.0), level, power) / 2 / m_eff)


def verdict(r, alpha: float, tolerance: float, min_models: int) -> str:
    """``improves``: adjusted p < ``alpha`` and the interval below 0; ``hurts``: above 0; ``no
    loss``: not significant and the interval's top <= ``tolerance``; else ``inconclusive``."""
    if min(r.n_in, r.n_out) < min_models or not np.isfinite(r.D):
        return "inconclusive"
    significant = r.p_adj < alpha
    if significant and r.ci_high < 0:
        return "improves"
    if significant and r.ci_low > 0:
        return "hurts"
    if not significant and r.ci_high <= tolerance:
        return "no loss"
    return "inconclusive"


def order(table: pd.DataFrame) -> pd.DataFrame:
    """Best first: improves (strongest evidence: lowest adjusted p, then raw p, then the lowest
    interval top), no loss (smallest share of the space kept), inconclusive (lowest adjusted p),
    hurts (likewise)."""
    rank = table["verdict"].map({v: i for i, v in enumerate(VERDICTS)})
    key = np.where(table["verdict"] == "no loss", table["share_space"], table["p_adj"].fillna(2.0))
    out = table.assign(_r=rank, _k=key, _p=table["p"].fillna(2.0), _c=table["ci_high"].fillna(1))
    out = out.sort_values(["_r", "_k", "_p", "_c"], kind="stable")
    return out.drop(columns=["_r", "_k", "_p", "_c"]).reset_index(drop=True)
