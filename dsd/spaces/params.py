"""Parameter domains of a design space and their distributions, drawn vectorised.

A parameter is either a finite set of ``values`` (drawn uniformly) or a range ``[low, high]`` of
multiples of ``q`` drawn ``uniform`` or ``log_uniform``. The range distributions follow the
reference sampler (pycls ``sweep/random.py``):

- ``uniform``: ``f ~ U[low, high + q)``, then ``floor(f / q) * q``: every multiple of ``q`` in
  ``[low, high]`` equally likely.
- ``log_uniform``: ``log f ~ U(log(low - q*), log high]`` with ``q* = min(q, low / 2)``, then
  ``ceil(f / q) * q``: log-uniform over ``[low, high]`` quantized to ``q``.

Quantized values are computed as ``k / (1 / q)`` when ``1 / q`` is an integer (``q = 0.1``,
``0.001``), which gives the double nearest to the decimal ``k * q``, as the reference's
``Decimal`` arithmetic does.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Param:
    """One design parameter's domain: ``values`` or ``low..high`` in steps of ``q``, and a distribution."""

    name: str
    values: tuple[float, ...] | None = None
    low: float | None = None
    high: float | None = None
    q: float = 1
    dist: str = "uniform"

    @property
    def is_int(self) -> bool:
        """Whether every value of the domain is an integer."""
        if self.values is not None:
            return all(float(v).is_integer() for v in self.values)
        return float(self.q).is_integer() and float(self.low).is_integer()

    def _quantize(self, k: np.ndarray) -> np.ndarray:
        inv = 1.0 / self.q
        if self.q < 1 and abs(inv - round(inv)) < 1e-9:
            return k / round(inv)
        return k * self.q

    def grid(self) -> np.ndarray:
        """Every value of the domain, ascending."""
        if self.values is not None:
            return np.array(sorted(self.values), dtype=float)
        k_lo, k_hi = math.ceil(self.low / self.q - 1e-9), math.floor(self.high / self.q + 1e-9)
        return self._quantize(np.arange(k_lo, k_hi + 1, dtype=float))

    def count(self) -> int:
        """Number of values of the domain."""
        if self.values is not None:
            return len(set(self.values))
        k_lo, k_hi = math.ceil(self.low / self.q - 1e-9), math.floor(self.high / self.q + 1e-9)
        return max(0, k_hi - k_lo + 1)

    def pmf(self) -> tuple[np.ndarray, np.ndarray]:
        """``(values, probabilities)``: the exact distribution :meth:`draw` samples, over :meth:`grid`.

        Computed once per parameter (the sampler asks for it every batch); read-only arrays.
        """
        return _pmf(self)

    def _exact_pmf(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`pmf`, computed.

        ``values``: uniform over the listed values (a value listed twice counts twice);
        ``uniform``: each multiple of ``q`` in ``[low, high]`` with the share of ``[low, high + q)``
        that floors to it; ``log_uniform``: the log-measure of ``(a, high]`` (``a = low - q*``) that
        ceils to each multiple, the float-edge clip folding stray mass into the end values.
        """
        if self.values is not None:
            vals, counts = np.unique(np.asarray(self.values, dtype=float), return_counts=True)
            return vals, counts / counts.sum()
        lo, hi, q = float(self.low), float(self.high), float(self.q)
        k_lo, k_hi = math.ceil(lo / q - 1e-9), math.floor(hi / q + 1e-9)
        if self.dist == "uniform":
            # k = floor(f / q), f ~ U[lo, hi + q): the measure of [k q, (k + 1) q) within.
            a, b, to = lo, hi + q, (lambda x: x)
            edges_for = lambda k: (k * q, (k + 1) * q)  # noqa: E731
        else:
            # k = ceil(f / q), log f ~ U(log a, log hi]: the log-measure of ((k - 1) q, k q].
            a, b, to = lo - min(q, lo / 2), hi, math.log
            edges_for = lambda k: ((k - 1) * q, k * q)  # noqa: E731
        first = math.floor(a / q) - 1
        last = math.ceil(b / q) + 1
        ks = np.arange(first, last + 1)
        mass = np.zeros(len(ks))
        for i, k in enumerate(ks):
            e0, e1 = edges_for(int(k))
            e0, e1 = max(e0, a), min(e1, b)
            if e1 > e0:
                mass[i] = to(e1) - to(e0)
        mass /= mass.sum()
        probs = np.zeros(k_hi - k_lo + 1)
        np.add.at(probs, np.clip(ks, k_lo, k_hi) - k_lo, mass)
        return self.grid(), probs

    def draw(self, rng: np.random.Generator, shape) -> np.ndarray:
        """Draw an array of the given shape (float64; integral when the domain is)."""
        if self.values is not None:
            vals = np.asarray(self.values, dtype=float)
            return vals[rng.integers(0, len(vals), size=shape)]
        lo, hi, q = float(self.low), float(self.high), float(self.q)
        if self.dist == "uniform":
            k = np.floor(rng.uniform(lo, hi + q, size=shape) / q)
        else:
            f = np.exp(rng.uniform(math.log(lo - min(q, lo / 2)), math.log(hi), size=shape))
            k = np.ceil(f / q)
        # Guard the float edges so every draw lies in the domain.
        k = np.clip(k, math.ceil(lo / q - 1e-9), math.floor(hi / q + 1e-9))
        return self._quantize(k)

    def short(self) -> str:
        """A compact domain, e.g. ``{1, 2, 4}`` or ``8..1024/8``."""
        if self.values is not None:
            return "{" + ", ".join(_fmt(v) for v in self.values) + "}"
        step = "" if self.q == 1 else f"/{_fmt(self.q)}"
        return f"{_fmt(self.low)}..{_fmt(self.high)}{step}"

    def describe(self) -> str:
        """A short human description, e.g. ``log_uniform over 8..1024 step 8 (128 values)``."""
        if self.values is not None:
            vals = ", ".join(_fmt(v) for v in self.values)
            return f"uniform over {{{vals}}}"
        return f"{self.dist} over {_fmt(self.low)}..{_fmt(self.high)} step {_fmt(self.q)} ({self.count()} values)"


@functools.lru_cache(maxsize=256)
def _pmf(p: Param) -> tuple[np.ndarray, np.ndarray]:
    values, probs = p._exact_pmf()
    values.flags.writeable = probs.flags.writeable = False
    return values, probs


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"
