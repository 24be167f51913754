"""Fitting RegNet's quantized linear form to a model's per-block widths (DDS §3.3, figure 7;
docs/POPULATIONS.md §5): ``e_fit = mean_j |log(predicted_j / observed_j)|`` over ``(w0, wa, wm)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dsd.errors import DsdError
from dsd.nets.regnet import quantized_linear
from dsd.spaces import load_space

Q = 8
WM_MIN = 1.1
WM_STEP = 1.2
POINTS = 15
POLISH = 4


@dataclass(frozen=True)
class FitDomain:
    """Where :func:`fit_regnet` searches ``w0``, ``wa``, ``wm`` (None: up to :func:`wm_limit`);
    ``d`` is only compared (a fit's depth is the number of blocks)."""

    name: str
    w0: tuple[float, float]
    wa: tuple[float, float]
    wm: tuple[float, float] | None
    d: tuple[float, float] = (1, math.inf)


#: Any ``w0`` and ``wa``, ``wm`` in [1.1, :func:`wm_limit`]: the best quantized linear form.
UNBOUNDED = FitDomain("unbounded", w0=(Q, math.inf), wa=(0.0, math.inf), wm=None)


@functools.cache
def regnet_domain() -> FitDomain:
    """The RegNet design space's ranges (``spaces/RegNet.yaml``): :func:`fit_regnet`'s default."""
    params = load_space("RegNet").parameters
    spans = [(float(params[k].low), float(params[k].high)) for k in ("w0", "wa", "wm", "depth")]
    return FitDomain("RegNet space", *spans)


def wm_limit(observed: Sequence[float]) -> float:
    """The largest ``wm`` the unbounded fit searches: one step from ``w0 = 8`` passes twice the
    widest block."""
    return max(4.0, 2.0 * max(float(np.max(observed)), Q) / Q)


def block_widths(depths: Sequence[int], widths: Sequence[int]) -> tuple[int, ...]:
    """Per-block widths of an AnyNet: stage ``i``'s width repeated ``d_i`` times."""
    if len(depths) != len(widths):
        raise DsdError(f"depths ({len(depths)} stages) and widths ({len(widths)}) differ in length")
    return tuple(int(w) for d, w in zip(depths, widths, strict=True) for _ in range(int(d)))


def quantized_linear_widths(d: int, w0, wa, wm, q: int = Q) -> np.ndarray:
    """Predicted per-block widths for each ``(w0, wa, wm)`` (broadcast arrays): shape (..., d)."""
    return quantized_linear(d, w0, wa, wm, q)[0]


def _e_fit(log_obs: np.ndarray, w0, wa, wm) -> np.ndarray:
    """``e_fit`` of each parameter triple (1-d arrays of one length) against ``log_obs``."""
    pred = quantized_linear_widths(log_obs.size, w0, wa, wm)
    return np.mean(np.abs(np.log(np.maximum(pred, Q)) - log_obs), axis=-1)


@dataclass(frozen=True)
class RegNetFit:
    """Best quantized linear fit of ``observed`` per-block widths: predicted ``widths``; the
    ``wm`` interval searched; ``at_bound``: the search limits the optimum lies within 1% of."""

    d: int
    w0: int
    wa: float
    wm: float
    e_fit: float
    widths: tuple[int, ...]
    observed: tuple[int, ...]
    wm_search: tuple[float, float] = (WM_MIN, 4.0)
    at_bound: tuple[str, ...] = ()
    domain: str = "RegNet space"

    @property
    def outside_space(self) -> tuple[str, ...]:
        """Names of the parameters outside the RegNet space's ranges (d < 64, w0 < 256, ...)."""
        return _outside(self.d, self.w0, self.wa, self.wm)

    @property
    def in_space(self) -> bool:
        """True when ``(d, w0, wa, wm)`` lie inside the RegNet design space's ranges."""
        return not self.outside_space

    @property
    def stage_widths(self) -> tuple[int, ...]:
        """Distinct predicted widths, one a stage."""
        return tuple(dict.fromkeys(self.widths))

    @property
    def stage_depths(self) -> tuple[int, ...]:
        """Number of blocks of each predicted stage."""
        return tuple(self.widths.count(w) for w in self.stage_widths)


def _outside(d, w0, wa, wm) -> tuple[str, ...]:
    """Which of ``d, w0, wa, wm`` leave the RegNet space's ranges (scalars)."""
    dom = regnet_domain()
    values = {"d": (d, dom.d), "w0": (w0, dom.w0), "wa": (wa, dom.wa), "wm": (wm, dom.wm)}
    return tuple(k for k, (v, (lo, hi)) in values.items() if not lo <= v <= hi)


def _grid(*axes: np.ndarray) -> tuple[np.ndarray, ...]:
    """Flattened Cartesian product of 1-d arrays."""
    return tuple(a.ravel() for a in np.meshgrid(*axes, indexing="ij"))


@dataclass(frozen=True)
class _Search:
    """One fit's observed widths and the ranges searched."""

    obs: np.ndarray
    w0: tuple[float, float]
    wa: tuple[float, float]
    wm: tuple[float, float]
    bounded: bool

    @property
    def log_obs(self) -> np.ndarray:
        return np.log(self.obs)

    def w0s(self, values: np.ndarray, top: float = math.inf) -> np.ndarray:
        """The distinct ``values`` within the w0 range (and at most ``top``)."""
        v = np.unique(np.asarray(values, dtype=float))
        return v[(v >= max(Q, self.w0[0])) & (v <= min(self.w0[1], top))]


def _coarse(s: _Search) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The coarse grid: w0 near the first width and log-spaced, wa and wm log-spaced."""
    top = max(float(s.obs.max()), Q)
    near = (np.round(np.geomspace(Q, top, 12) / Q) * Q, s.obs[0] + Q * np.arange(-2, 3))
    w0 = s.w0s(np.concatenate((*near, np.unique(s.obs)[:3])), top)
    wa_lo = max(0.5, s.wa[0])
    wa = np.geomspace(wa_lo, max(min(max(2.0 * top, 256.0), s.wa[1]), wa_lo), 28)
    lo, hi = s.wm
    points = int(np.ceil(np.log((hi - 1) / (lo - 1)) / np.log(WM_STEP))) + 1
    wm = 1 + np.geomspace(lo - 1, hi - 1, max(points, 2))
    return _grid(w0, wa, wm)


def _refine(s: _Search, w0: float, wa: float, wm: float, step: float) -> tuple[np.ndarray, ...]:
    """A local grid around ``(w0, wa, wm)``: w0 by multiples of 8, wa and wm-1 by factors."""
    factors = np.geomspace(1 / step, step, POINTS)
    was, wms = np.clip(wa * factors, *s.wa), np.clip(1 + (wm - 1) * factors, *s.wm)
    return _grid(s.w0s(w0 + Q * np.arange(-2, 3)), np.unique(was), np.unique(wms))


def _best_wa(s: _Search, w0: np.ndarray, wm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each ``(w0, wm)`` pair, the exactly best ``wa`` and its ``e_fit``: block ``j`` changes
    level at ``wa = w0 (wm^(k - 1/2) - 1) / j``, so one ``wa`` between breakpoints covers all."""
    log_obs = s.log_obs
    d = log_obs.size
    if d == 1:
        wa = np.full_like(w0, float(np.clip(1.0, *s.wa)))
        return wa, _e_fit(log_obs, w0, wa, wm)
    top = np.log(2 * np.exp(log_obs.max()) / w0.min()) / np.log(wm.min())
    k = np.arange(1, int(np.clip(np.ceil(top), 1, 60)) + 1)
    j = np.arange(1, d)
    bp = w0[:, None, None] * (wm[:, None, None] ** (k[None, :, None] - 0.5) - 1) / j[None, None, :]
    bp = np.sort(bp.reshape(len(w0), -1), axis=1)
    mids = np.sqrt(bp[:, 1:] * bp[:, :-1])
    wa = np.clip(np.concatenate((bp[:, :1] / 2, mids, bp[:, -1:] * 2), axis=1), *s.wa)
    err = _e_fit(log_obs, w0[:, None], wa, wm[:, None])
    i = np.argmin(err, axis=1)
    rows = np.arange(len(w0))
    return wa[rows, i], err[rows, i]


def _wm_candidates(s: _Search, w0: float, wm: float, window=1.03, limit=24) -> np.ndarray:
    """``wm`` values near ``wm``, one in each of the ``limit`` nearest intervals where no level
    width ``round8(w0 wm^k)`` that is an observed width changes."""
    k = np.arange(1, 61)[:, None]
    ends = np.concatenate([((np.unique(s.obs) + h * Q / 2) / w0).clip(1e-9) for h in (-1, 1)])
    cuts = (ends[None, :] ** (1 / k)).ravel()
    lo, hi = max(wm / window, s.wm[0]), min(wm * window, s.wm[1])
    cuts = np.sort(np.concatenate(([lo, hi], cuts[(cuts > lo) & (cuts < hi)])))
    mids = (cuts[1:] + cuts[:-1]) / 2
    mids = mids[np.argsort(np.abs(np.log(mids / wm)), kind="stable")[:limit]]
    return np.concatenate(([wm], mids))


def _distinct_best(err: np.ndarray, keep: int) -> np.ndarray:
    """Indices of the ``keep`` smallest distinct values of ``err`` (first of each tie)."""
    order = np.argsort(err, kind="stable")
    _, first = np.unique(err[order].round(12), return_index=True)
    return order[np.sort(first)[:keep]]


def _local_rounds(s: _Search, w0, wa, wm, rounds: int, keep: int):
    """Up to ``rounds`` local refinements around the ``keep`` best distinct triples."""
    err = _e_fit(s.log_obs, w0, wa, wm)
    step = 2.0
    for _ in range(rounds):
        if err.min() == 0:  # an exact fit: nothing left to improve
            break
        best = _distinct_best(err, keep)
        grids = [_refine(s, w0[i], wa[i], wm[i], step) for i in best]
        w0 = np.concatenate([w0[best], *(g[0] for g in grids)])
        wa = np.concatenate([wa[best], *(g[1] for g in grids)])
        wm = np.concatenate([wm[best], *(g[2] for g in grids)])
        err = _e_fit(s.log_obs, w0, wa, wm)
        step = 1 + (step - 1) * 0.5
    return w0, wa, wm, err


def _polish(s: _Search, w0, wa, wm, err):
    """An exact line search in wa on a fine wm grid around the ``POLISH`` best triples."""
    best = _distinct_best(err, POLISH)
    pairs = [_wm_candidates(s, w0[i], wm[i]) for i in best]
    pw0 = np.concatenate([np.full(len(c), w0[i]) for i, c in zip(best, pairs, strict=True)])
    pwm = np.concatenate(pairs)
    pwa, perr = _best_wa(s, pw0, pwm)
    return (
        np.concatenate((w0, pw0)),
        np.concatenate((wa, pwa)),
        np.concatenate((wm, pwm)),
        np.concatenate((err, perr)),
    )


def _search(dom: FitDomain, obs: np.ndarray) -> _Search:
    """What :func:`fit_regnet` searches for ``obs`` within ``dom``: its wm range when it has one
    (then its limits are limits), else ``[WM_MIN, wm_limit(obs)]``."""
    if dom.wm is None:
        return _Search(obs, dom.w0, dom.wa, (WM_MIN, wm_limit(obs)), bounded=False)
    return _Search(obs, dom.w0, dom.wa, dom.wm, bounded=True)


def fit_regnet(
    block_widths: Sequence[float],
    rounds: int = 8,
    keep: int = 10,
    *,
    domain: FitDomain | None = None,
) -> RegNetFit:
    """Fit the RegNet quantized linear form to per-block widths within ``domain`` (default the
    RegNet space): a coarse grid, ``rounds`` local grids around the ``keep`` best distinct triples,
    then exact line searches in ``wa`` on a fine ``wm`` grid (docs/POPULATIONS.md §5)."""
    obs = np.asarray(block_widths, dtype=float)
    if obs.ndim != 1 or obs.size == 0 or not np.all(np.isfinite(obs)) or np.any(obs <= 0):
        raise DsdError("fit_regnet: block widths must be a non-empty sequence of positive numbers")
    dom = regnet_domain() if domain is None else domain
    s = _search(dom, obs)
    w0, wa, wm, err = _local_rounds(s, *_coarse(s), rounds, keep)
    if err.min() > 0:
        w0, wa, wm, err = _polish(s, w0, wa, wm, err)
    i = _pick(s, err, w0, wa, wm)
    pred = quantized_linear_widths(obs.size, w0[i], wa[i], wm[i])
    return RegNetFit(
        d=int(obs.size),
        w0=int(w0[i]),
        wa=float(wa[i]),
        wm=float(wm[i]),
        e_fit=float(err[i]),
        widths=tuple(int(v) for v in pred),
        observed=tuple(int(v) if float(v).is_integer() else float(v) for v in obs),
        wm_search=s.wm,
        at_bound=_bounds(s, float(w0[i]), float(wa[i]), float(wm[i])),
        domain=dom.name,
    )


def _bounds(s: _Search, w0: float, wa: float, wm: float) -> tuple[str, ...]:
    """The search limits that the triple touches (lies within 1% of)."""
    hits = {"wm_min": wm <= s.wm[0] * 1.01, "wm_max": wm >= s.wm[1] / 1.01}
    if s.bounded:  # the RegNet space: its wa and w0 limits are limits too
        hits |= {"wa_min": wa <= s.wa[0] * 1.01, "wa_max": wa >= s.wa[1] / 1.01}
        hits["w0_max"] = w0 >= math.floor(s.w0[1] / Q) * Q
    return tuple(k for k, hit in hits.items() if hit)


def _pick(s: _Search, err: np.ndarray, w0, wa, wm) -> int:
    """Index of the best triple; among exact ties, one inside the RegNet space and off the limits
    (so ``in_space`` and ``at_bound`` describe the optimum, not an arbitrary tie)."""
    tied = np.flatnonzero(err <= err.min() + 1e-12)
    triples = zip(w0[tied], wa[tied], wm[tied])
    score = [2 * (not _bounds(s, *t)) + (not _outside(s.obs.size, *t)) for t in triples]
    return int(tied[np.argmax(score)])
