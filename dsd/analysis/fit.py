"""Fitting the quantized linear form of RegNet (DDS §3.3, figure 7) to a model's per-block widths.

The RegNet generator, for depth ``d`` and parameters ``(w0, wa, wm)``:
``u_j = w0 + wa * j`` (``j = 0..d-1``), ``s_j = round(log(u_j / w0) / log(wm))``, and the
predicted width of block ``j`` is ``w0 * wm ** s_j`` rounded to a multiple of ``q = 8``.
:func:`quantized_linear_widths` evaluates it for a whole grid of parameters at once.

:func:`fit_regnet` sets ``d`` to the number of blocks and searches ``(w0, wa, wm)`` minimising
``e_fit = mean_j |log(predicted_j / observed_j)|``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dsd.errors import DsdError
from dsd.nets.regnet import quantized_linear

Q = 8
WM_MIN = 1.1
WM_STEP = 1.2
POINTS = 15
POLISH = 4
PAPER_RANGES = {"d": (1, 63), "w0": (8, 255), "wa": (0.0, 255.0), "wm": (1.5, 3.0)}
"""The RegNet design space's limits (DDS §3.3): d < 64, w0 < 256, wa < 256, 1.5 <= wm <= 3."""


def wm_limit(observed: Sequence[float]) -> float:
    """The largest ``wm`` the fit searches: ``max(4, 2 * max(observed) / 8)``.

    A step of ``wm`` from the smallest ``w0`` (8) then lands above twice the widest block, farther
    than any jump between observed widths; a fit that still reaches it says so (``at_bound``).
    """
    return max(4.0, 2.0 * max(float(np.max(observed)), Q) / Q)


def block_widths(depths: Sequence[int], widths: Sequence[int]) -> tuple[int, ...]:
    """Per-block widths of an AnyNet: stage ``i``'s width repeated ``d_i`` times."""
    if len(depths) != len(widths):
        raise DsdError(f"depths ({len(depths)} stages) and widths ({len(widths)}) differ in length")
    return tuple(int(w) for d, w in zip(depths, widths, strict=True) for _ in range(int(d)))


def quantized_linear_widths(d: int, w0, wa, wm, q: int = Q) -> np.ndarray:
    """Predicted per-block widths for each ``(w0, wa, wm)`` (broadcast arrays): shape (..., d).

    The generator of :func:`dsd.nets.regnet.quantized_linear` (one formula, one place).
    """
    return quantized_linear(d, w0, wa, wm, q)[0]


def _e_fit(log_obs: np.ndarray, w0, wa, wm) -> np.ndarray:
    """``e_fit`` of each parameter triple (1-d arrays of one length) against ``log_obs``."""
    pred = quantized_linear_widths(log_obs.size, w0, wa, wm)
    return np.mean(np.abs(np.log(np.maximum(pred, Q)) - log_obs), axis=-1)


@dataclass(frozen=True)
class RegNetFit:
    """Best quantized linear fit of a model's per-block widths.

    ``d``: number of blocks; ``w0, wa, wm``: the fitted parameters; ``e_fit``: mean absolute log
    ratio of predicted to observed widths; ``widths``: predicted per-block widths; ``observed``: the
    widths that were fitted; ``wm_search``: the ``wm`` interval searched; ``at_bound``: the search
    limits the optimum touched, i.e. lies within 1% of (``"wm_min"``, ``"wm_max"``; empty when it
    lies inside, so no better fit was cut off). :attr:`outside_space` / :attr:`in_space` compare the parameters with the
    RegNet design space's limits (:data:`PAPER_RANGES`).
    """

    d: int
    w0: int
    wa: float
    wm: float
    e_fit: float
    widths: tuple[int, ...]
    observed: tuple[int, ...]
    wm_search: tuple[float, float] = (WM_MIN, 4.0)
    at_bound: tuple[str, ...] = ()

    @property
    def outside_space(self) -> tuple[str, ...]:
        """Names of the parameters outside the paper's RegNet ranges (d < 64, w0 < 256, ...)."""
        values = {"d": self.d, "w0": self.w0, "wa": self.wa, "wm": self.wm}
        return tuple(k for k, (lo, hi) in PAPER_RANGES.items() if not lo <= values[k] <= hi)

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


def _grid(*axes: np.ndarray) -> tuple[np.ndarray, ...]:
    """Flattened Cartesian product of 1-d arrays."""
    return tuple(a.ravel() for a in np.meshgrid(*axes, indexing="ij"))


def _coarse(obs: np.ndarray, wm_hi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The coarse grid: w0 near the first width and log-spaced, wa and wm log-spaced."""
    top = max(float(obs.max()), Q)
    w0 = np.unique(
        np.concatenate(
            (
                np.round(np.geomspace(Q, top, 12) / Q) * Q,
                obs[0] + Q * np.arange(-2, 3),
                np.unique(obs)[:3],
            )
        )
    )
    w0 = w0[(w0 >= Q) & (w0 <= top)]
    wa = np.geomspace(0.5, max(2.0 * top, 256.0), 28)
    points = int(np.ceil(np.log((wm_hi - 1) / (WM_MIN - 1)) / np.log(WM_STEP))) + 1
    wm = 1 + np.geomspace(WM_MIN - 1, wm_hi - 1, points)
    return _grid(w0, wa, wm)


def _refine(w0: float, wa: float, wm: float, step: float, wm_hi: float) -> tuple[np.ndarray, ...]:
    """A local grid around ``(w0, wa, wm)``: w0 by multiples of 8, wa and wm-1 by factors."""
    w0s = w0 + Q * np.arange(-2, 3)
    w0s = w0s[w0s >= Q]
    was = wa * np.geomspace(1 / step, step, POINTS)
    wms = 1 + (wm - 1) * np.geomspace(1 / step, step, POINTS)
    wms = np.clip(wms, WM_MIN, wm_hi)
    return _grid(w0s, was, wms)


def _best_wa(log_obs: np.ndarray, w0: np.ndarray, wm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each ``(w0, wm)`` pair, the exactly best ``wa`` and its ``e_fit`` (a line search).

    Block ``j`` moves from level ``k - 1`` to ``k`` at ``wa = w0 (wm^(k - 1/2) - 1) / j``; between
    consecutive such breakpoints every block's level is constant, so one ``wa`` per interval
    (the geometric midpoint) covers every distinct prediction.
    """
    d = log_obs.size
    if d == 1:
        return np.ones_like(w0), _e_fit(log_obs, w0, np.ones_like(w0), wm)
    top = np.log(2 * np.exp(log_obs.max()) / w0.min()) / np.log(wm.min())
    k = np.arange(1, int(np.clip(np.ceil(top), 1, 60)) + 1)
    j = np.arange(1, d)
    bp = w0[:, None, None] * (wm[:, None, None] ** (k[None, :, None] - 0.5) - 1) / j[None, None, :]
    bp = np.sort(bp.reshape(len(w0), -1), axis=1)
    mids = np.sqrt(bp[:, 1:] * bp[:, :-1])
    wa = np.concatenate((bp[:, :1] / 2, mids, bp[:, -1:] * 2), axis=1)
    err = _e_fit(log_obs, w0[:, None], wa, wm[:, None])
    i = np.argmin(err, axis=1)
    rows = np.arange(len(w0))
    return wa[rows, i], err[rows, i]


def _wm_candidates(
    obs: np.ndarray, w0: float, wm: float, wm_hi: float, window: float = 1.03, limit: int = 24
) -> np.ndarray:
    """``wm`` values near ``wm``, one in each interval where no level width ``round8(w0 wm^k)`` changes.

    Level ``k`` gives width ``W`` for ``wm`` in ``[((W - 4) / w0)^(1/k), ((W + 4) / w0)^(1/k))``;
    the ends of these intervals for the observed widths cut the window into pieces (the ``limit``
    pieces nearest to ``wm`` are returned).
    """
    k = np.arange(1, 61)[:, None]
    ends = np.concatenate([((np.unique(obs) + h * Q / 2) / w0).clip(1e-9) for h in (-1, 1)])
    cuts = (ends[None, :] ** (1 / k)).ravel()
    lo, hi = max(wm / window, WM_MIN), min(wm * window, wm_hi)
    cuts = np.sort(np.concatenate(([lo, hi], cuts[(cuts > lo) & (cuts < hi)])))
    mids = (cuts[1:] + cuts[:-1]) / 2
    mids = mids[np.argsort(np.abs(np.log(mids / wm)), kind="stable")[:limit]]
    return np.concatenate(([wm], mids))


def fit_regnet(block_widths: Sequence[float], rounds: int = 8, keep: int = 10) -> RegNetFit:
    """Fit the RegNet quantized linear form to per-block widths (DDS §3.3, figure 7).

    ``d`` is set to ``len(block_widths)``; ``(w0, wa, wm)`` minimise
    ``e_fit = mean_j |log(predicted_j / observed_j)|``.

    What the paper leaves open, and what is chosen here:

    - the search: a coarse grid (``w0`` a multiple of 8, taken log-spaced from 8 to the largest
      observed width plus the first observed width and its neighbours; ``wa`` 28 log-spaced values
      in [0.5, max(256, 2 max width)]; ``wm`` in [1.1, :func:`wm_limit`] with ``wm - 1``
      log-spaced by factors of 1.2, i.e. 20 values up to 4 and 44 up to 256),
      then up to ``rounds`` local refinements (15 x 15 x 5 grids) around the ``keep`` best
      distinct triples, shrinking the ``wa`` and ``wm - 1`` factors each round, stopping at an
      exact fit; if none is found, a polish around the 4 best: ``wm`` at every interval where the
      level widths ``round8(w0 wm^k)`` are constant (nearest 24 within 3%), and for each an exact
      line search in ``wa`` over the intervals where every block's level is constant. ``w0`` is
      not capped at the paper's 256;
    - the log ratio is absolute (otherwise over- and under-predictions would cancel);
    - ``w0`` is a multiple of 8 (as pycls requires) and predicted widths use the generator's
      rounding to multiples of ``q = 8``; ``wm`` may leave the paper's [1.5, 3] (down to 1.1, up
      to :func:`wm_limit`) so that AnyNet models with slowly growing widths, or one large jump
      (widths 24 x 13, 16, 192 x 10, 512: e_fit 0.055 at wm ~ 8, where a cap at 4 gave 0.36),
      are fitted at their optimum; the result says whether the optimum lies in the RegNet space
      (``in_space``, ``outside_space``) and whether it touched a search limit (``at_bound``);
    - ties (many triples give the same widths) go to a triple inside the paper's ranges and off
      the search limits when there is one, else to the first one found.
    """
    obs = np.asarray(block_widths, dtype=float)
    if obs.ndim != 1 or obs.size == 0 or not np.all(np.isfinite(obs)) or np.any(obs <= 0):
        raise DsdError("fit_regnet: block widths must be a non-empty sequence of positive numbers")
    log_obs = np.log(obs)
    wm_hi = wm_limit(obs)
    w0, wa, wm = _coarse(obs, wm_hi)
    err = _e_fit(log_obs, w0, wa, wm)
    step = 2.0
    for _ in range(rounds):
        if err.min() == 0:  # an exact fit: nothing left to improve
            break
        order = np.argsort(err, kind="stable")
        _, first = np.unique(err[order].round(12), return_index=True)
        best = order[np.sort(first)[:keep]]
        cand = [_refine(w0[i], wa[i], wm[i], step, wm_hi) for i in best]
        w0 = np.concatenate([w0[best], *(c[0] for c in cand)])
        wa = np.concatenate([wa[best], *(c[1] for c in cand)])
        wm = np.concatenate([wm[best], *(c[2] for c in cand)])
        err = _e_fit(log_obs, w0, wa, wm)
        step = 1 + (step - 1) * 0.5
    if err.min() > 0:  # polish: exact line search in wa on a fine wm grid around the best
        order = np.argsort(err, kind="stable")
        _, first = np.unique(err[order].round(12), return_index=True)
        best = order[np.sort(first)[:POLISH]]
        pairs = [_wm_candidates(obs, w0[i], wm[i], wm_hi) for i in best]
        pw0 = np.concatenate([np.full(len(c), w0[i]) for i, c in zip(best, pairs, strict=True)])
        pwm = np.concatenate(pairs)
        pwa, perr = _best_wa(log_obs, pw0, pwm)
        w0, wa, wm = (np.concatenate(a) for a in ((w0, pw0), (wa, pwa), (wm, pwm)))
        err = np.concatenate((err, perr))
    i = _pick(err, obs.size, w0, wa, wm, wm_hi)
    pred = quantized_linear_widths(obs.size, w0[i], wa[i], wm[i])
    return RegNetFit(
        d=int(obs.size),
        w0=int(w0[i]),
        wa=float(wa[i]),
        wm=float(wm[i]),
        e_fit=float(err[i]),
        widths=tuple(int(v) for v in pred),
        observed=tuple(int(v) if float(v).is_integer() else float(v) for v in obs),
        wm_search=(WM_MIN, wm_hi),
        at_bound=_bounds(float(wm[i]), wm_hi),
    )


def _bounds(wm: float, wm_hi: float) -> tuple[str, ...]:
    """The ``wm`` search limits that ``wm`` touches (lies within 1% of)."""
    out = ("wm_min",) if wm <= WM_MIN * 1.01 else ()
    return out + (("wm_max",) if wm >= wm_hi / 1.01 else ())


def _pick(err: np.ndarray, d: int, w0, wa, wm, wm_hi: float) -> int:
    """Index of the best triple; among exact ties, one inside the paper's ranges and off the bounds.

    Many triples give the same widths; preferring the ones in the RegNet space and away from the
    search limits makes ``in_space`` and ``at_bound`` describe the optimum, not an arbitrary tie.
    """
    tied = np.flatnonzero(err <= err.min() + 1e-12)
    lo, hi = PAPER_RANGES["w0"], PAPER_RANGES["wa"]
    inside = (
        (PAPER_RANGES["d"][0] <= d <= PAPER_RANGES["d"][1])
        & (w0[tied] >= lo[0])
        & (w0[tied] <= lo[1])
        & (wa[tied] >= hi[0])
        & (wa[tied] <= hi[1])
        & (wm[tied] >= PAPER_RANGES["wm"][0])
        & (wm[tied] <= PAPER_RANGES["wm"][1])
    )
    off = np.array([not _bounds(float(v), wm_hi) for v in wm[tied]])
    score = 2 * off.astype(int) + inside.astype(int)
    return int(tied[np.argmax(score)])
