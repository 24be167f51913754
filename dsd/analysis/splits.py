"""How ``dsd refine`` tests the splits of a population, and how its verdicts control errors.

A candidate (:mod:`dsd.analysis.candidates`) cuts a population into two sides: the models that
satisfy it (``in``) and the rest (``out``). Candidates that cut it the same way (equal in-sets)
or the opposite way (complementary in-sets, such as ``b1 <= 1`` and ``b1 >= 2``) are one
**split** (:func:`group_splits`): tested once, counted once, named by the better side.

:func:`measure_split` compares the two sides:

- EDFs normalised by flops as in NDS, each side over the same bins of the population's range
  (:func:`side_weights`: the largest bin count up to ``bins`` that leaves no bin of either side
  empty, the search bounded by the smaller side's size; 1 bin = plain);
- the KS distance ``D`` between the sides (and ``D_whole`` between ``in`` and the whole
  population) and its p-value (:func:`dsd.analysis.stats.ks`);
- the difference ``diff = in - out`` of the normalised EDF's 25th percentile (how good the
  good models are) with a 95% percentile bootstrap interval and its bootstrap standard error
  ``se``: :class:`Resamples` of the whole population, drawn once and shared by every split,
  each cut into its two sides (NDS weights kept).

:func:`measure_samples` gives the same statistics for two independent populations (a child
space's against its parent's: ``dsd design``), each resampled within itself.

:func:`judge` reaches the verdicts with two families of tests over the splits, each adjusted by
Benjamini-Hochberg (``scipy.stats.false_discovery_control``) at ``alpha``:

- ``improves`` / ``hurts``: the KS p-value adjusted (``p_adj``) below ``alpha``, and the
  interval of ``diff`` below 0 (improves) or above 0 (hurts). The false discovery rate of
  "improves" (and of "hurts") over the splits is at most ``alpha``.
- ``no loss``: a one-sided non-inferiority test of H0 "the in side is worse by at least
  ``tolerance``" (``diff >= tolerance``), ``z = (diff - tolerance) / se``, ``p_noloss =
  Phi(z)``, adjusted (``p_noloss_adj``) below ``alpha``: the false discovery rate of "no loss"
  is at most ``alpha`` (a split that loses more than the tolerance is called "no loss" with
  probability at most ``alpha``).
- else ``inconclusive`` (also: fewer than ``min_models`` on a side); ``power`` states the
  power of the split to see a KS difference of 0.2 among the tests, ``n_needed`` the population
  that would resolve the observed D.

:func:`explanations` marks an "improves" whose effect disappears within the sides of another
"improves" as **explained by** it (see there).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from dsd.analysis.candidates import Candidate
from dsd.analysis.population import normalisation
from dsd.analysis.stats import DIFFERENCE, edf, kish_size, ks, ks_models_needed, ks_power
from dsd.spaces import Constraints

VERDICTS = ("improves", "no loss", "inconclusive", "hurts")
CORRECTION = "Benjamini-Hochberg"
#: The statistic compared between the sides: this quantile of the normalised error EDF.
QUANTILE = 0.25
#: The statistics of a split that has models on both sides (NaN otherwise).
STATISTICS = ("D", "D_whole", "p", "stat_in", "stat_out", "diff", "ci_low", "ci_high", "se")
#: The most "improves" splits :func:`explanations` compares pairwise.
MAX_EXPLAINED = 20


@dataclass(frozen=True, eq=False)
class Resamples:
    """``reps`` bootstrap resamples of the whole population, drawn once and shared by every split:
    ``counts[r, i]`` = copies of model ``order[i]`` (models sorted by error) in resample ``r``.
    A split's two sides are the restrictions of each resample, so the side sizes vary between
    resamples as they do between populations."""

    order: np.ndarray
    counts: np.ndarray

    @classmethod
    def draw(
        cls,
        errors: np.ndarray,
        reps: int,
        rng: np.random.Generator,
        strata: np.ndarray | None = None,
    ) -> Resamples:
        """``reps`` resamples of the models with errors ``errors``; with ``strata`` (one label a
        model), each stratum is resampled within itself, so its size is the same in every
        resample (two independent populations keep their sizes, as they were drawn)."""
        n = errors.size
        order = np.argsort(errors, kind="stable")
        groups = (
            [np.arange(n)]
            if strata is None
            else [np.flatnonzero(strata == s) for s in np.unique(strata)]
        )
        idx = np.concatenate(
            [g[rng.integers(0, g.size, size=(reps, g.size))] for g in groups], axis=1
        )
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
    normalisation ``range``, the shared :class:`Resamples`, the whole population's weights and
    the most flop ``bins``."""

    errors: np.ndarray
    flops: np.ndarray
    range: tuple[float, float]
    resamples: Resamples
    whole: np.ndarray
    bins: int

    @classmethod
    def of(cls, errors, flops, lo_hi, bins: int, reps: int, seed: int, strata=None) -> Sample:
        """The sample of these models (all inside ``lo_hi``), its resamples drawn from ``seed``
        (within each of the ``strata``, when given: see :meth:`Resamples.draw`)."""
        boot = Resamples.draw(errors, reps, np.random.default_rng(seed), strata)
        whole = side_weights(flops, [np.ones(errors.size, bool)], bins, lo_hi)[0][0]
        return cls(errors, flops, lo_hi, boot, whole, bins)

    @property
    def n(self) -> int:
        """Models tested."""
        return int(self.errors.size)

    def weights(self, sides: Sequence[np.ndarray]) -> tuple[list[np.ndarray], int]:
        """NDS weights of ``sides`` (:func:`side_weights`) and the bin count used."""
        return side_weights(self.flops, sides, self.bins, self.range)


def side_weights(
    flops: np.ndarray, sides: Sequence[np.ndarray], bins: int, lo_hi: tuple[float, float]
) -> tuple[list[np.ndarray], int]:
    """NDS weights of each side (bool masks) over shared bins of ``lo_hi``, and the bin count
    used: the largest up to ``bins`` with no empty bin on either side
    (:func:`dsd.analysis.population.normalisation`, bounded by the smaller side's size)."""
    frames = {i: pd.DataFrame({"flops": flops[s]}) for i, s in enumerate(sides)}
    norm = normalisation(frames, "flops", bins, range=lo_hi)
    return [norm.weights[i] for i in range(len(sides))], norm.bins


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a population: ``inside`` (bool mask) holds the models that satisfy the
    candidates ``named`` (the first names the split); ``complements`` are the candidates whose
    in-set is the rest."""

    inside: np.ndarray
    named: tuple[Candidate, ...]
    complements: tuple[Candidate, ...] = ()

    @property
    def candidate(self) -> Candidate:
        """The candidate that names the split."""
        return self.named[0]

    def flipped(self) -> Split:
        """The same split named by its other side."""
        return Split(~self.inside, self.complements, self.named)

    @property
    def merged(self) -> str:
        """The other candidates of the split, in words."""
        same = [c.name for c in self.named[1:]]
        parts = [f"same split: {'; '.join(same)}"] if same else []
        if self.complements:
            parts.append(f"complement: {'; '.join(c.name for c in self.complements)}")
        return " | ".join(parts)


def group_splits(
    candidates: Sequence[Candidate], masks: Sequence[np.ndarray]
) -> tuple[list[Split], int]:
    """The splits that ``candidates`` (with their in-sets ``masks``) make, in order of their
    first candidate, and how many range candidates were left out because they hold every model
    or none (other candidates that do are kept, each its own split, to be named untestable)."""
    splits: list[Split] = []
    where: dict[bytes, tuple[int, bool]] = {}  # in-set -> (split, same side as its named)
    left_out = 0
    for cand, mask in zip(candidates, masks, strict=True):
        trivial = mask.all() or not mask.any()
        if trivial and cand.kind == "range":
            left_out += 1
            continue
        found = None if trivial else where.get(mask.tobytes())
        if found is None:
            if not trivial:
                where[mask.tobytes()] = (len(splits), True)
                where[(~mask).tobytes()] = (len(splits), False)
            splits.append(Split(mask, (cand,)))
            continue
        i, same = found
        s = splits[i]
        if same:
            splits[i] = Split(s.inside, (*s.named, cand), s.complements)
        else:
            splits[i] = Split(s.inside, s.named, (*s.complements, cand))
    return splits, left_out


def measure_split(split: Split, sample: Sample) -> tuple[Split, dict[str, Any]]:
    """The statistics of one split, named by its better side when its other side is a candidate
    too (the side with the lower 25th percentile); returns the split as named and its row."""
    inside = split.inside
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    if n_in < 2 or n_out < 2:
        row = {"n_in": n_in, "n_out": n_out, "share_pop": n_in / max(sample.n, 1)}
        return split, {**row, **dict.fromkeys(STATISTICS, math.nan), "bins": 0, "m_eff": 0.0}
    e = sample.errors
    (w_in, w_out), b = sample.weights([inside, ~inside])
    f_in, f_out = edf(e[inside], w_in), edf(e[~inside], w_out)
    if split.complements and f_out.quantile(QUANTILE) < f_in.quantile(QUANTILE):
        split, inside, n_in, n_out = split.flipped(), ~inside, n_out, n_in
        f_in, f_out, w_in, w_out = f_out, f_in, w_out, w_in
    boot = sample.resamples
    diffs = boot.quantile(e, inside, w_in, QUANTILE) - boot.quantile(e, ~inside, w_out, QUANTILE)
    lo, hi = np.nanquantile(diffs, [0.025, 0.975])
    s_in, s_out = f_in.quantile(QUANTILE), f_out.quantile(QUANTILE)
    n1, n2 = kish_size(w_in), kish_size(w_out)
    r = ks(f_in, f_out)
    return split, {
        "n_in": n_in,
        "n_out": n_out,
        "share_pop": n_in / sample.n,
        "D": r.statistic,
        "D_whole": ks(f_in, edf(e, sample.whole)).statistic,
        "p": r.pvalue,
        "stat_in": s_in,
        "stat_out": s_out,
        "diff": s_in - s_out,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "se": float(np.nanstd(diffs)),
        "bins": b,
        "m_eff": n1 * n2 / (n1 + n2),
    }


def measure_samples(
    child: tuple[np.ndarray, np.ndarray],
    parent: tuple[np.ndarray, np.ndarray],
    lo_hi: tuple[float, float],
    *,
    bins: int,
    reps: int,
    seed: int,
) -> dict[str, Any]:
    """The statistics of :func:`measure_split` for two independent populations, ``child`` (the
    ``in`` side) against ``parent`` (``out``), each given as ``(errors, flops)`` of its models
    inside ``lo_hi``: the same NDS weights over shared bins, KS, the 25th percentile's
    difference ``child - parent`` with its interval and standard error. The two populations
    are one sample cut by a mask, as a split is; only the bootstrap differs: each population
    is resampled within itself (its size fixed, as drawn), where a split's sides vary in size
    with the resample. :func:`judge` then gives the verdicts of a table of such rows."""
    errors = np.concatenate([np.asarray(child[0], float), np.asarray(parent[0], float)])
    flops = np.concatenate([np.asarray(child[1], float), np.asarray(parent[1], float)])
    inside = np.arange(errors.size) < len(child[0])
    sample = Sample.of(errors, flops, lo_hi, bins, reps, seed, strata=inside)
    named = (Candidate("child", "population", Constraints()),)
    return measure_split(Split(inside, named), sample)[1]


@dataclass(frozen=True)
class Levels:
    """What the verdicts ask: the level ``alpha`` of both families of tests, the ``tolerance``
    of "no loss" (error units), the ``power`` sample sizes are stated for, and the fewest models
    a side needs (``min_models``)."""

    alpha: float
    tolerance: float
    power: float
    min_models: int


def judge(table: pd.DataFrame, n: int, levels: Levels) -> pd.DataFrame:
    """``table`` (one row a split, from :func:`measure_split`) with ``p_adj``, ``p_noloss``,
    ``p_noloss_adj``, ``power``, ``n_needed`` and the ``verdict`` (see the module docstring)."""
    table = table.copy()
    tested = table["p"].notna()
    table["p_noloss"] = [_noloss(r.diff, r.se, levels.tolerance) for r in table.itertuples()]
    for column, adjusted in (("p", "p_adj"), ("p_noloss", "p_noloss_adj")):
        table[adjusted] = np.nan
        if tested.any():
            values = table.loc[tested, column]
            table.loc[tested, adjusted] = sps.false_discovery_control(values, method="bh")
    level = levels.alpha / max(int(tested.sum()), 1)
    table["power"] = [_power(m, level) for m in table["m_eff"]]
    table["n_needed"] = [
        _needed(d, m, n, level, levels.power)
        for d, m in zip(table["D"], table["m_eff"], strict=True)
    ]
    table["verdict"] = [verdict(r, levels) for r in table.itertuples()]
    return table


def _noloss(diff: float, se: float, tolerance: float) -> float:
    """The p-value of H0 ``diff >= tolerance`` (Wald, with the bootstrap standard error)."""
    if not (np.isfinite(diff) and np.isfinite(se)):
        return math.nan
    if se == 0:
        return 0.0 if diff < tolerance else 1.0
    return float(sps.norm.cdf((diff - tolerance) / se))


def _power(m_eff: float, level: float) -> float:
    """The power of a split of effective size ``m_eff`` to see a KS difference of 0.2."""
    return ks_power(2 * m_eff, 2 * m_eff, DIFFERENCE, level) if m_eff > 0 else 0.0


def _needed(d: float, m_eff: float, n: int, level: float, power: float) -> float:
    """Models the population would need for this split to resolve a KS difference ``d``."""
    if not (m_eff > 0 and d > 0) or not np.isfinite(d):
        return math.inf
    return float(math.ceil(n * ks_models_needed(min(d, 1.0), level, power) / 2 / m_eff))


def verdict(r, levels: Levels) -> str:
    """The verdict of one split (see the module docstring)."""
    if min(r.n_in, r.n_out) < levels.min_models or not np.isfinite(r.p):
        return "inconclusive"
    if r.p_adj < levels.alpha and r.ci_high < 0:
        return "improves"
    if r.p_adj < levels.alpha and r.ci_low > 0:
        return "hurts"
    if r.p_noloss_adj < levels.alpha:
        return "no loss"
    return "inconclusive"


def explanations(
    table: pd.DataFrame, masks: Sequence[np.ndarray], sample: Sample, levels: Levels
) -> list[str]:
    """For each row of ``table`` (ordered best first; ``masks[i]`` the in-set of row ``i``),
    the name of the stronger candidate that explains it, or ``""``.

    An "improves" A is explained by another "improves" B when A's split shows no difference
    within the sides of B (KS within each side of B that has ``min_models`` on both sides of A,
    the p-values combined by Fisher's method, not below ``alpha``; or no such side), and either
    B's split does show one within the sides of A or B comes first. A cause is never explained
    by a range that only correlates with it: within the cause's sides the correlate's effect
    disappears, and within the correlate's sides the cause's does not. Only the first
    :data:`MAX_EXPLAINED` "improves" are compared.
    """
    out = [""] * len(table)
    rows = list(np.flatnonzero(table["verdict"].to_numpy() == "improves"))[:MAX_EXPLAINED]
    for a in rows:
        for b in rows:
            if b == a or _persists(masks[a], masks[b], sample, levels):
                continue
            if b < a or _persists(masks[b], masks[a], sample, levels):
                out[a] = str(table["candidate"].iloc[b])
                break
    return out


def _persists(a: np.ndarray, b: np.ndarray, sample: Sample, levels: Levels) -> bool:
    """Whether split ``a`` shows a difference within the sides of split ``b`` (see
    :func:`explanations`)."""
    pvalues = []
    for side in (b, ~b):
        a_in, a_out = a & side, ~a & side
        if min(a_in.sum(), a_out.sum()) < levels.min_models:
            continue
        (w_in, w_out), _ = sample.weights([a_in, a_out])
        e = sample.errors
        pvalues.append(ks(edf(e[a_in], w_in), edf(e[a_out], w_out)).pvalue)
    if not pvalues:
        return False
    p = pvalues[0] if len(pvalues) == 1 else sps.combine_pvalues(pvalues, "fisher").pvalue
    return bool(p < levels.alpha)


def order(table: pd.DataFrame) -> pd.DataFrame:
    """Best first: improves (unexplained first, then the strongest evidence: lowest adjusted p,
    raw p, lowest interval top), no loss (smallest share of the space kept), inconclusive (lowest
    adjusted p), hurts (likewise)."""
    rank = table["verdict"].map({v: i for i, v in enumerate(VERDICTS)})
    key = np.where(table["verdict"] == "no loss", table["share_space"], table["p_adj"].fillna(2.0))
    explained = table["explained_by"].ne("") if "explained_by" in table else False
    out = table.assign(_r=rank, _x=explained, _k=key, _p=table["p"].fillna(2.0))
    out = out.assign(_c=table["ci_high"].fillna(1))
    out = out.sort_values(["_r", "_x", "_k", "_p", "_c"], kind="stable")
    return out.drop(columns=["_r", "_x", "_k", "_p", "_c"]).reset_index(drop=True)
