"""Statistics of populations (docs/PAPER.md "Statistics"): error EDFs, normalised EDFs, KS,
bootstrap, random search and KS power. Errors are fractions in [0, 1]; seeds are explicit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from dsd.errors import DsdError

SeedLike = int | np.random.Generator | None

#: dsd's default significance level (``dsd compare``, ``dsd refine``, the report).
ALPHA = 0.05
#: The power a "no difference" verdict asks for before it counts as evidence of sameness.
POWER = 0.8
#: The KS difference D whose power every "no difference" verdict states.
DIFFERENCE = 0.2
#: Bootstrap index draws held in memory at once (the repetitions are drawn in blocks).
BLOCK = 1 << 22
#: The most bootstrap repetitions any function draws (``--reps``).
MAX_REPS = 1_000_000


def _as_1d(name: str, x) -> np.ndarray:
    """``x`` as a 1-d float array, or a DsdError naming ``name``."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise DsdError(f"{name}: expected numbers") from None
    if a.ndim != 1:
        raise DsdError(f"{name}: expected a 1-d sequence, got shape {a.shape}")
    return a


def check_fractions(values, what: str = "errors") -> np.ndarray:
    """``values`` as a float array; DsdError if a finite value lies outside [0, 1] (percent)."""
    a = np.asarray(values, dtype=float)
    bad = np.isfinite(a) & ((a < 0) | (a > 1))
    if bad.any():
        v = float(a[bad].flat[0])
        hint = f" ({v:g}% is {v / 100:g})" if 1 < v <= 100 else ""
        raise DsdError(f"{what} are fractions in [0, 1]; got {v:g}{hint}")
    return a


def kish_size(weights) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (n for equal weights)."""
    w = np.asarray(weights, dtype=float)
    s2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / s2 if s2 > 0 else 0.0


@dataclass(frozen=True, eq=False)
class ConfidenceBand:
    """A pointwise band ``lower <= F(x) <= upper`` on the grid ``x`` at confidence ``level``."""

    x: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    method: str


@dataclass(frozen=True, eq=False)
class EDF:
    """An error EDF ``F(e) = sum_i w_i 1[e_i < e]``: sorted errors ``x`` and their ``weights``."""

    x: np.ndarray
    weights: np.ndarray
    unit = "fraction"

    @property
    def n(self) -> int:
        """Number of models in the EDF."""
        return int(self.x.size)

    @property
    def min(self) -> float:
        """Smallest error."""
        return float(self.x[0])

    @property
    def mean(self) -> float:
        """Weighted mean error (the plain mean for an unweighted EDF)."""
        return float(np.sum(self.x * self.weights))

    @property
    def n_eff(self) -> float:
        """Kish effective sample size of the weights (``n`` for an unweighted EDF)."""
        return kish_size(self.weights)

    def evaluate(self, e):
        """``F(e)``, the weight of models with error strictly below ``e`` (fractions in [0, 1])."""
        e = check_fractions(e, "EDF.evaluate: errors")
        if not np.all(np.isfinite(e)):
            raise DsdError("EDF.evaluate: errors must be finite fractions in [0, 1]")
        cum = np.concatenate(([0.0], np.cumsum(self.weights)))
        idx = np.searchsorted(self.x, e, side="left")
        out = np.minimum(cum[idx], 1.0)
        return float(out) if np.ndim(out) == 0 else out

    def steps(self) -> tuple[np.ndarray, np.ndarray]:
        """Arrays ``(x, F)`` for ``plt.step(x, F, where="post")``: F just after each ``x``."""
        return self.x, np.minimum(np.cumsum(self.weights), 1.0)

    def quantile(self, q):
        """Smallest error ``e_i`` with ``F(e_i) + w_i >= q`` (the inverse EDF)."""
        cum = np.cumsum(self.weights)
        idx = np.searchsorted(cum, np.asarray(q, dtype=float) - 1e-12, side="left")
        out = self.x[np.clip(idx, 0, self.n - 1)]
        return float(out) if np.ndim(out) == 0 else out

    def grid(self, points: int = 200) -> np.ndarray:
        """An evaluation grid spanning the errors (a little beyond both ends, within [0, 1])."""
        lo, hi = self.x[0], self.x[-1]
        pad = 0.02 * (hi - lo) if hi > lo else 0.01
        return np.linspace(max(lo - pad, 0.0), min(hi + pad, 1.0), points)

    def confidence_band(
        self,
        level: float = 0.95,
        method: str = "dkw",
        *,
        x=None,
        reps: int = 1000,
        seed: SeedLike = 0,
    ) -> ConfidenceBand:
        """A band for F on ``x``: ``"dkw"`` (uniform; Kish size when weighted) or ``"bootstrap"``
        (pointwise percentiles of resampled, renormalised EDFs)."""
        if not 0 < level < 1:
            raise DsdError(f"confidence level must be in (0, 1), got {level}")
        x = self.grid() if x is None else np.asarray(x, dtype=float)
        f = np.asarray(self.evaluate(x), dtype=float)
        if method == "dkw":
            eps = math.sqrt(math.log(2 / (1 - level)) / (2 * self.n_eff))
            return ConfidenceBand(x, np.clip(f - eps, 0, 1), np.clip(f + eps, 0, 1), level, method)
        if method == "bootstrap":  # resample models, renormalise their weights
            e, w, n = self.x, self.weights, self.n
            idx = np.random.default_rng(seed).integers(0, n, size=(reps, n))
            flat = (np.arange(reps)[:, None] * n + idx).ravel()
            cw = np.bincount(flat, minlength=reps * n).reshape(reps, n) * w
            curves = (cw @ (e[:, None] < x[None, :]).astype(float)) / cw.sum(axis=1, keepdims=True)
            tail = (1 - level) / 2
            lower, upper = np.quantile(curves, [tail, 1 - tail], axis=0)
            return ConfidenceBand(x, lower, upper, level, method)
        raise DsdError(f"unknown confidence band method {method!r} (use 'dkw' or 'bootstrap')")


def edf(errors, weights=None) -> EDF:
    """The error EDF (DDS eq. 1), or the normalised EDF given ``weights`` (NDS); models with a
    non-finite error or zero weight are left out and the weights rescaled to sum to 1.

    >>> f = edf([0.3, 0.1, 0.2, 0.4])
    >>> f.evaluate(0.3), f.n, f.min, round(f.mean, 3)
    (0.5, 4, 0.1, 0.25)
    """
    e = check_fractions(_as_1d("errors", errors))
    e, w = _kept(e, weights, "edf: no finite errors with positive weight")
    order = np.argsort(e, kind="stable")
    return EDF(e[order], w[order] / w.sum())


def _kept(e: np.ndarray, weights, empty: str) -> tuple[np.ndarray, np.ndarray]:
    """The finite errors with positive weight and their ``weights`` (default 1; finite, >= 0)."""
    w = np.full(e.size, 1.0) if weights is None else _as_1d("weights", weights)
    if w.size != e.size:
        raise DsdError(f"weights has {w.size} entries but errors has {e.size}")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise DsdError("weights must be finite and non-negative")
    keep = np.isfinite(e) & (w > 0)
    if not keep.any():
        raise DsdError(empty)
    return e[keep], w[keep]


def complexity_weights(values, bins: int = 10, range: tuple[float, float] | None = None):
    """NDS weights ``1 / (bins * m_j)`` over ``bins`` equal bins of ``range`` (last one closed);
    0 outside it; an empty bin is refused.

    >>> complexity_weights([1, 2, 2, 9], bins=2, range=(0, 4)).tolist()
    [0.5, 0.25, 0.25, 0.0]
    """
    v = _as_1d("values", values)
    if bins < 1:
        raise DsdError(f"bins must be >= 1, got {bins}")
    lo, hi = (np.nanmin(v), np.nanmax(v)) if range is None else map(float, range)
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise DsdError(f"complexity range must be finite with low < high, got ({lo}, {hi})")
    edges = np.linspace(lo, hi, bins + 1)
    inside = np.isfinite(v) & (v >= lo) & (v <= hi)
    j = np.clip(np.searchsorted(edges, np.where(inside, v, lo), side="right") - 1, 0, bins - 1)
    m = np.bincount(j[inside], minlength=bins)
    empty = np.flatnonzero(m == 0)
    if empty.size:
        k = int(empty[0])
        raise DsdError(
            f"complexity bin {k + 1} of {bins} [{edges[k]:.4g}, {edges[k + 1]:.4g}) has no models; "
            "use fewer bins or a narrower range"
        )
    return np.where(inside, 1.0 / (bins * m[j]), 0.0)


@dataclass(frozen=True)
class KSResult:
    """Two-sample Kolmogorov-Smirnov result: ``statistic`` D, ``pvalue``, sizes and method."""

    statistic: float
    pvalue: float
    n1: float
    n2: float
    method: str


def ks(errors_a, errors_b, weights_a=None, weights_b=None) -> KSResult:
    """KS distance ``D = sup_e |F_a(e) - F_b(e)|`` between two error arrays or :class:`EDF` objects.

    Equal weights: scipy's ``ks_2samp``. Unequal: D of the weighted EDFs, the asymptotic
    Kolmogorov p-value with Kish effective sizes in ``n1``/``n2`` (an approximation).

    >>> ks([0.1, 0.2, 0.3], [0.4, 0.5, 0.6]).statistic
    1.0
    """
    a = errors_a if isinstance(errors_a, EDF) else edf(errors_a, weights_a)
    b = errors_b if isinstance(errors_b, EDF) else edf(errors_b, weights_b)
    if _uniform(a.weights) and _uniform(b.weights):
        r = stats.ks_2samp(a.x, b.x)
        return KSResult(float(r.statistic), float(r.pvalue), a.n, b.n, "ks_2samp")
    pts = np.concatenate((a.x, b.x))
    fa = np.concatenate(([0.0], np.cumsum(a.weights)))[np.searchsorted(a.x, pts, side="right")]
    fb = np.concatenate(([0.0], np.cumsum(b.weights)))[np.searchsorted(b.x, pts, side="right")]
    d = float(np.max(np.abs(fa - fb)))
    n1, n2 = a.n_eff, b.n_eff
    p = float(stats.kstwobign.sf(d * math.sqrt(n1 * n2 / (n1 + n2))))
    return KSResult(d, min(max(p, 0.0), 1.0), n1, n2, "weighted (Kish effective sizes)")


def _uniform(w: np.ndarray) -> bool:
    """True when all weights are equal."""
    return bool(np.allclose(w, w[0], rtol=1e-9, atol=0))


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Likely range of the best value of a parameter (arrays a stage for per-stage ones);
    ``samples``: the best model's value in every repetition, (reps,) or (reps, stages)."""

    low: float | np.ndarray
    median: float | np.ndarray
    high: float | np.ndarray
    ci: float
    samples: np.ndarray
    n: int
    m: int

    @property
    def best(self):
        """The most likely best value (the median)."""
        return self.median


def bootstrap_best(
    values, errors, frac: float = 0.25, reps: int = 10_000, ci: float = 0.95, seed: SeedLike = 0
) -> BootstrapResult:
    """Empirical bootstrap of the parameter value of the best model (DDS footnote 4).

    ``m = max(1, round(frac * n))`` pairs drawn with replacement, ``reps`` times; quantiles are
    ``inverted_cdf`` (observed values, so integers stay integer). ``values`` may be models x
    stages; pairs with a non-finite error or value are dropped.

    >>> r = bootstrap_best([1, 2, 3, 4], [0.4, 0.1, 0.3, 0.2], frac=1)
    >>> r.low, r.best, r.high
    (2.0, 2.0, 4.0)
    """
    x = np.asarray(values, dtype=float)
    e = _as_1d("errors", errors)
    if x.ndim not in (1, 2) or x.shape[0] != e.size:
        raise DsdError(f"values must have {e.size} rows (one a model), got shape {x.shape}")
    if not 0 < frac <= 1 or not 0 < ci < 1 or not 1 <= reps <= MAX_REPS:
        raise DsdError(
            f"need 0 < frac <= 1, 0 < ci < 1, 1 <= reps <= {MAX_REPS:,} (got {frac}, {ci}, {reps})"
        )
    keep = np.isfinite(e) & (np.isfinite(x) if x.ndim == 1 else np.all(np.isfinite(x), axis=1))
    x, e, n = x[keep], e[keep], int(keep.sum())
    if n == 0:
        raise DsdError("bootstrap_best: no models with a finite error and value")
    m = max(1, round(frac * n))
    rng = np.random.default_rng(seed)
    rows = max(1, BLOCK // m)  # draws in blocks of rows: one stream, bounded memory
    best = []
    for start in range(0, reps, rows):
        idx = rng.integers(0, n, size=(min(rows, reps - start), m))
        best.append(idx[np.arange(len(idx)), np.argmin(e[idx], axis=1)])
    samples = x[np.concatenate(best)]
    tail = (1 - ci) / 2
    low, med, high = np.quantile(samples, [tail, 0.5, 1 - tail], axis=0, method="inverted_cdf")
    if x.ndim == 1:
        low, med, high = float(low), float(med), float(high)
    return BootstrapResult(low, med, high, ci, samples, n, m)


@dataclass(frozen=True, eq=False)
class RandomSearchResult:
    """Expected minimum error ``mean[i]`` of ``k[i]`` random models, its ``std`` and band
    ``low``..``high``; ``n_eff``: the Kish size of the weights drawn from."""

    k: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float
    n: int
    replace: bool = True
    n_eff: float = float("nan")
    std: np.ndarray | None = None
    band: str = "quantile"


def random_search_efficiency(
    errors,
    k: Sequence[int] | None = None,
    level: float = 0.5,
    *,
    weights=None,
    replace: bool = True,
    band: str = "std",
) -> RandomSearchResult:
    """Random-search efficiency (NDS): the exact distribution of the best error of ``k`` models
    drawn with replacement with probability ``weights`` (or without, equal weights); the band is
    ``mean -+ 2 std`` (NDS) or the central ``level`` quantiles.

    >>> r = random_search_efficiency([1.0, 2.0, 3.0], k=[1, 2, 3], replace=False)
    >>> r.mean.round(4).tolist()
    [2.0, 1.3333, 1.0]
    >>> random_search_efficiency([1.0, 2.0], k=[2]).mean.tolist()  # 1 unless both draws pick 2.0
    [1.25]
    """
    e, w = _kept(_as_1d("errors", errors), weights, "random_search_efficiency: no finite errors")
    order = np.argsort(e, kind="stable")
    e, w, n = e[order], w[order], e.size
    if not 0 < level < 1:
        raise DsdError(f"level must be in (0, 1), got {level}")
    if band not in ("std", "quantile"):
        raise DsdError(f"unknown band {band!r} (use 'std' or 'quantile')")
    if k is None:
        k = np.arange(1, n + 1) if n <= 1000 else np.unique(np.geomspace(1, n, 200).astype(int))
    k = np.asarray(k, dtype=int)
    if np.any(k < 1) or (not replace and np.any(k > n)):
        raise DsdError(f"k must be >= 1{'' if replace else f' and <= {n} (the number of models)'}")
    if replace:
        cum = np.minimum(np.cumsum(w / w.sum()), 1.0)
        above = 1.0 - np.concatenate(([0.0], cum))  # P(min = e_(i)) = above_(i-1)^k - above_i^k
        p = above[None, :-1] ** k[:, None] - above[None, 1:] ** k[:, None]
    elif weights is not None and not _uniform(w):
        raise DsdError("random_search_efficiency: replace=False needs equal weights")
    else:
        p = _without_replacement(n, k)
    p = np.clip(p, 0.0, None)
    p /= p.sum(axis=1, keepdims=True)
    mean = p @ e
    std = np.sqrt(np.clip(p @ (e * e) - mean * mean, 0.0, None))
    if band == "std":
        low, high = mean - 2 * std, mean + 2 * std
    else:
        cdf = np.cumsum(p, axis=1)
        tail = (1 - level) / 2
        low = e[np.argmax(cdf >= tail - 1e-12, axis=1)]
        high = e[np.argmax(cdf >= 1 - tail - 1e-12, axis=1)]
    return RandomSearchResult(k, mean, low, high, level, n, replace, kish_size(w), std, band)


def _without_replacement(n: int, k: np.ndarray) -> np.ndarray:
    """``P(min of k draws without replacement = e_(i)) = C(n-i, k-1) / C(n, k)``: (len(k), n)."""
    i = np.arange(1, n + 1)
    kk = k[:, None]
    ok = (n - i)[None, :] >= kk - 1
    logc = (
        special.gammaln(n - i + 1)[None, :]
        - special.gammaln(kk)
        - special.gammaln(np.maximum(n - i - kk + 2, 1))
    )
    lognk = special.gammaln(n + 1) - special.gammaln(kk + 1) - special.gammaln(n - kk + 1)
    return np.where(ok, np.exp(np.where(ok, logc - lognk, 0.0)), 0.0)


def ks_power(n_a: float, n_b: float, d: float = DIFFERENCE, alpha: float = ALPHA) -> float:
    """Power of the two-sample KS test at ``alpha`` against EDFs that differ by ``d`` near one
    point (the least favourable case): ``Phi(2 (d sqrt(m) - c))``, ``m = n_a n_b / (n_a + n_b)``,
    ``c`` the Kolmogorov critical value (docs/POPULATIONS.md §9).

    >>> round(ks_power(159, 159, 0.2, 0.05), 2), round(ks_power(20, 20, 0.2, 0.05), 2)
    (0.8, 0.07)
    """
    c = _critical(d, alpha)
    if min(n_a, n_b) <= 0:
        return 0.0
    m = n_a * n_b / (n_a + n_b)
    return float(stats.norm.cdf(2 * (d * math.sqrt(m) - c)))


def ks_models_needed(d: float = DIFFERENCE, alpha: float = ALPHA, power: float = POWER) -> int:
    """Models per population (two of equal size) for :func:`ks_power` >= ``power``.

    >>> ks_models_needed(0.2, 0.05, 0.8), ks_models_needed(0.1, 0.05, 0.8)
    (159, 633)
    """
    c = _critical(d, alpha)
    if not 0 < power < 1:
        raise DsdError(f"power must be in (0, 1), got {power}")
    return math.ceil(2 * ((c + float(stats.norm.ppf(power)) / 2) / d) ** 2 - 1e-9)


def _critical(d: float, alpha: float) -> float:
    """The Kolmogorov critical value at ``alpha``; DsdError unless 0 < d <= 1 and 0 < alpha < 1."""
    if not 0 < d <= 1:
        raise DsdError(f"a KS difference is in (0, 1], got {d}")
    if not 0 < alpha < 1:
        raise DsdError(f"alpha must be in (0, 1), got {alpha}")
    return float(stats.kstwobign.isf(alpha))
