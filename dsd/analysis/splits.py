"""How ``dsd refine`` tests the splits a candidate makes of a population (in: the models that
satisfy it; out: the rest) and the verdicts with their error control (docs/POPULATIONS.md §10).
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
Arrays = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class Resamples:
    """Bootstrap resamples of the whole population, shared by every split (so side sizes vary
    as between populations): ``counts[r, i]`` copies of model ``i`` in resample ``r``."""

    order: np.ndarray
    counts: np.ndarray

    @classmethod
    def draw(
        cls, errors: np.ndarray, reps: int, rng: np.random.Generator, strata=None
    ) -> Resamples:
        """``reps`` resamples; each of the ``strata`` (one label a model) within itself."""
        n = errors.size
        order = np.argsort(errors, kind="stable")
        labels = np.zeros(n) if strata is None else strata
        groups = [np.flatnonzero(labels == s) for s in np.unique(labels)]
        draws = [g[rng.integers(0, g.size, size=(reps, g.size))] for g in groups]
        flat = (np.arange(reps)[:, None] * n + np.concatenate(draws, axis=1)).ravel()
        counts = np.bincount(flat, minlength=reps * n).reshape(reps, n).astype(np.float64)
        return cls(order, counts)

    def quantile(self, errors: np.ndarray, side: np.ndarray, w: np.ndarray, q: float) -> np.ndarray:
        """The weighted ``q``-quantile of ``side`` (a mask; ``w`` its weights) in every resample
        (NaN where it has none)."""
        pos = np.flatnonzero(side[self.order])  # columns of this side, ascending error
        ws = np.zeros(side.size)
        ws[side] = w
        ws = ws[self.order][pos]
        es = errors[self.order][pos]
        cw = self.counts[:, pos] * ws
        tot = cw.sum(axis=1)
        # Only the columns holding q (+ margin) of the side's weight are summed: it is faster.
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
    """The models inside the normalisation ``range`` as their splits are tested: the shared
    :class:`Resamples`, the ``whole`` population's weights and the most flop ``bins``."""

    errors: np.ndarray
    flops: np.ndarray
    range: tuple[float, float]
    resamples: Resamples
    whole: np.ndarray
    bins: int

    @classmethod
    def of(cls, errors, flops, lo_hi, bins: int, reps: int, seed: int, strata=None) -> Sample:
        """The sample of these models (all inside ``lo_hi``), resampled from ``seed``."""
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
    """NDS weights of each side (masks) over shared bins of ``lo_hi`` and the bin count: the
    largest up to ``bins`` with no empty bin on either side."""
    frames = {i: pd.DataFrame({"flops": flops[s]}) for i, s in enumerate(sides)}
    norm = normalisation(frames, "flops", bins, range=lo_hi)
    return [norm.weights[i] for i in range(len(sides))], norm.bins


@dataclass(frozen=True, eq=False)
class Split:
    """A split: ``inside`` satisfy the candidates ``named`` (the first names it), the rest satisfy
    the ``complements``."""

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
        parts = (("same split", self.named[1:]), ("complement", self.complements))
        return " | ".join(f"{k}: {'; '.join(c.name for c in cs)}" for k, cs in parts if cs)


def group_splits(
    candidates: Sequence[Candidate], masks: Sequence[np.ndarray]
) -> tuple[list[Split], int]:
    """The splits that ``candidates`` (in-sets ``masks``) make, and how many ranges were left out
    for holding every model or none (other such candidates are kept, untestable)."""
    splits: list[Split] = []
    where: dict[bytes, tuple[int, bool]] = {}  # in-set -> (split, same side as its named)
    left_out = 0
    for cand, mask in zip(candidates, masks, strict=True):
        if mask.all() or not mask.any():  # holds every model or none: untestable
            if cand.kind == "range":
                left_out += 1
            else:
                splits.append(Split(mask, (cand,)))
            continue
        key = mask.tobytes()
        if key not in where:
            where[key] = (len(splits), True)
            where[(~mask).tobytes()] = (len(splits), False)
            splits.append(Split(mask, (cand,)))
        else:
            i, same = where[key]
            s = splits[i]
            if same:
                splits[i] = Split(s.inside, (*s.named, cand), s.complements)
            else:
                splits[i] = Split(s.inside, s.named, (*s.complements, cand))
    return splits, left_out


def measure_split(split: Split, sample: Sample) -> tuple[Split, dict[str, Any]]:
    """The split named by its better side (lower 25th percentile) when both are candidates, and
    its statistics."""
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
    row = {"n_in": n_in, "n_out": n_out, "share_pop": n_in / sample.n}
    stats = {  # the columns of STATISTICS, in its order
        "D": float(r.statistic),
        "D_whole": float(ks(f_in, edf(e, sample.whole)).statistic),
        "p": float(r.pvalue),
        "stat_in": float(s_in),
        "stat_out": float(s_out),
        "diff": float(s_in - s_out),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "se": float(np.nanstd(diffs)),
    }
    return split, {**row, **stats, "bins": b, "m_eff": n1 * n2 / (n1 + n2)}


def measure_samples(
    child: Arrays, parent: Arrays, lo_hi: tuple[float, float], *, bins: int, reps: int, seed: int
) -> dict[str, Any]:
    """:func:`measure_split`'s statistics for two independent populations ``(errors, flops)``
    inside ``lo_hi``, ``child`` as ``in``; each is resampled within itself (its size as drawn)."""
    errors = np.concatenate([np.asarray(child[0], float), np.asarray(parent[0], float)])
    flops = np.concatenate([np.asarray(child[1], float), np.asarray(parent[1], float)])
    inside = np.arange(errors.size) < len(child[0])
    sample = Sample.of(errors, flops, lo_hi, bins, reps, seed, strata=inside)
    named = (Candidate("child", "population", Constraints()),)
    return measure_split(Split(inside, named), sample)[1]


@dataclass(frozen=True)
class Levels:
    """What the verdicts ask: level, "no loss" ``tolerance`` (error units), the ``power`` sample
    sizes are stated for, the fewest models a side needs."""

    alpha: float
    tolerance: float
    power: float
    min_models: int


def judge(table: pd.DataFrame, n: int, levels: Levels) -> pd.DataFrame:
    """``table`` (rows of :func:`measure_split`) with adjusted p-values, power and verdicts."""
    table = table.copy()
    tested = table["p"].notna()
    table["p_noloss"] = [_noloss(r.diff, r.se, levels.tolerance) for r in table.itertuples()]
    for column, adjusted in (("p", "p_adj"), ("p_noloss", "p_noloss_adj")):
        table[adjusted] = np.nan
        if tested.any():
            values = table.loc[tested, column]
            table.loc[tested, adjusted] = sps.false_discovery_control(values, method="bh")
    level = levels.alpha / max(int(tested.sum()), 1)
    m_eff = table["m_eff"]
    table["power"] = [ks_power(2 * m, 2 * m, DIFFERENCE, level) if m > 0 else 0.0 for m in m_eff]
    table["n_needed"] = [
        _needed(d, m, n, level, levels.power) for d, m in zip(table["D"], m_eff, strict=True)
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


def _needed(d: float, m_eff: float, n: int, level: float, power: float) -> float:
    """Models the population would need for this split to resolve a KS difference ``d``."""
    if not (m_eff > 0 and d > 0) or not np.isfinite(d):
        return math.inf
    return float(math.ceil(n * ks_models_needed(min(d, 1.0), level, power) / 2 / m_eff))


def verdict(r, levels: Levels) -> str:
    """The verdict of one split (docs/POPULATIONS.md §10)."""
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
    """For each row of ``table`` (best first; ``masks[i]`` row ``i``'s in-set), the stronger
    "improves" within whose sides its "improves" disappears while not vice versa (or that comes
    first), or ``""`` (docs/POPULATIONS.md §10)."""
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
    """Whether split ``a`` shows a difference within the sides of split ``b`` (Fisher's method)."""
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
    """Best first: by verdict, unexplained first, then the strongest evidence (no loss: the
    smallest share of the space kept)."""
    rank = table["verdict"].map({v: i for i, v in enumerate(VERDICTS)})
    key = np.where(table["verdict"] == "no loss", table["share_space"], table["p_adj"].fillna(2.0))
    explained = table["explained_by"].ne("") if "explained_by" in table else False
    keys = {
        "_r": rank,
        "_x": explained,
        "_k": key,
        "_p": table["p"].fillna(2.0),
        "_c": table["ci_high"].fillna(1),
    }
    out = table.assign(**keys).sort_values(list(keys), kind="stable")
    return out.drop(columns=list(keys)).reset_index(drop=True)
