"""Parameter domains of a design space and their distributions, drawn vectorised.

A domain is a set of ``values`` (drawn uniformly) or multiples of ``q`` in ``[low, high]`` drawn as
the reference sampler (pycls ``sweep/random.py``) does: ``uniform``: ``floor(f / q) * q`` with
``f ~ U[low, high + q)``; ``log_uniform``: ``ceil(f / q) * q`` with
``log f ~ U(log(low - min(q, low / 2)), log high]``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsd.errors import SpaceError

MAX_NUMBER = 1e15  # the largest magnitude of a number in a space file
MAX_VALUES = 100_000
MAX_VALUE = 1 << 16
SPEC_KEYS = ("values", "low", "high", "q", "dist")
INTEGRAL = ("depth", "width", "group_width", "w0")


@dataclass(frozen=True)
class Param:
    """One parameter's domain (``values``, or ``low..high`` in steps of ``q``) and distribution."""

    name: str
    values: tuple[float, ...] | None = None
    low: float | None = None
    high: float | None = None
    q: float = 1
    dist: str = "uniform"

    @classmethod
    def load(cls, name: str, spec: Any, where: str) -> Param:
        """A ``params`` entry of a space file, validated."""
        key = f"{where}: params.{name}"
        if not isinstance(spec, Mapping):
            raise SpaceError(
                f"{key}: expected a mapping with 'values' or 'low'/'high' (+ 'q', 'dist')"
            )
        unknown = [k for k in spec if k not in SPEC_KEYS]
        if unknown:
            raise SpaceError(f"{key}: unknown key {unknown[0]!r} (allowed: {', '.join(SPEC_KEYS)})")
        param = cls._values(name, spec, key) if "values" in spec else cls._range(name, spec, key)
        if name in INTEGRAL and not param.is_int:
            raise SpaceError(f"{key}: must take integer values")
        if param.count() == 0:
            raise SpaceError(f"{key}: empty domain (no multiple of q between low and high)")
        if param.count() > MAX_VALUES:
            raise SpaceError(f"{key}: {param.count():,} values; at most {MAX_VALUES:,} allowed")
        if name == "bottleneck_ratio":
            bad = [b for b in param.grid() if b < 1 and not (1 / b).is_integer()]
            if bad:
                raise SpaceError(f"{key}: {fmt(bad[0])} not allowed (b >= 1, or 1/b an integer)")
        return param

    @classmethod
    def _values(cls, name: str, spec: Mapping, key: str) -> Param:
        if any(k in spec for k in ("low", "high", "q")):
            raise SpaceError(f"{key}: give either 'values' or 'low'/'high', not both")
        vals = spec["values"]
        if not isinstance(vals, list):
            raise SpaceError(f"{key}.values: expected a list of numbers, got {vals!r}"[:300])
        if not vals:
            raise SpaceError(f"{key}.values: empty domain (give at least one value)")
        bad = [v for v in vals if not is_number(v) or not 0 < v <= MAX_VALUE]
        if bad:
            raise SpaceError(
                f"{key}.values: {bad[0]!r} is not a number from 0 to {MAX_VALUE}"[:300]
            )
        if spec.get("dist", "uniform") != "uniform":
            raise SpaceError(
                f"{key}.dist: a 'values' domain is drawn 'uniform', got {spec['dist']!r}"[:300]
            )
        if len(vals) > MAX_VALUES:
            raise SpaceError(f"{key}.values: {len(vals):,} values; at most {MAX_VALUES:,} allowed")
        return cls(name, values=tuple(vals))

    @classmethod
    def _range(cls, name: str, spec: Mapping, key: str) -> Param:
        for k in ("low", "high"):
            if k not in spec:
                raise SpaceError(
                    f"{key}: missing '{k}' (a range needs 'low' and 'high'; or give 'values')"
                )
            if not is_number(spec[k]) or not 0 < spec[k] <= MAX_VALUE:
                raise SpaceError(
                    f"{key}.{k}: expected a number above 0, at most {MAX_VALUE}, got {spec[k]!r}"
                )
        q, low, high = spec.get("q", 1), spec["low"], spec["high"]
        if not is_number(q) or q <= 0:
            raise SpaceError(f"{key}.q: expected a positive number, got {q!r}"[:300])
        if low > high:
            raise SpaceError(f"{key}: reversed range low={low} > high={high}")
        if (high - low) / q > MAX_VALUES:
            raise SpaceError(
                f"{key}: more than {MAX_VALUES:,} values; at most {MAX_VALUES:,} allowed"
            )
        dist = spec.get("dist", "uniform")
        if dist not in ("uniform", "log_uniform"):
            raise SpaceError(
                f"{key}.dist: unknown distribution {dist!r} (allowed: uniform, log_uniform)"[:300]
            )
        return cls(name, low=low, high=high, q=q, dist=dist)

    @property
    def is_int(self) -> bool:
        """Whether every value of the domain is an integer."""
        if self.values is not None:
            return all(float(v).is_integer() for v in self.values)
        return float(self.q).is_integer() and float(self.low).is_integer()

    def _quantize(self, k: np.ndarray) -> np.ndarray:
        """``k * q``; ``k / (1 / q)`` when that is an integer: the double nearest the decimal."""
        inv = 1.0 / self.q
        if self.q < 1 and abs(inv - round(inv)) < 1e-9:
            return k / round(inv)
        return k * self.q

    def grid(self) -> np.ndarray:
        """Every value of the domain, ascending."""
        if self.values is not None:
            return np.array(sorted(self.values), dtype=float)
        k_lo, k_hi = self._steps()
        return self._quantize(np.arange(k_lo, k_hi + 1, dtype=float))

    def count(self) -> int:
        """Number of values of the domain."""
        if self.values is not None:
            return len(set(self.values))
        k_lo, k_hi = self._steps()
        return max(0, k_hi - k_lo + 1)

    def _steps(self) -> tuple[int, int]:
        """The first and last multiple of ``q`` in the range (a float tolerance at the edges)."""
        return math.ceil(self.low / self.q - 1e-9), math.floor(self.high / self.q + 1e-9)

    def pmf(self) -> tuple[np.ndarray, np.ndarray]:
        """``(values, probabilities)``: the exact distribution :meth:`draw` samples (cached,
        read-only arrays; a value listed twice counts twice)."""
        return _pmf(self)

    def _exact_pmf(self) -> tuple[np.ndarray, np.ndarray]:
        if self.values is not None:
            vals, counts = np.unique(np.asarray(self.values, dtype=float), return_counts=True)
            return vals, counts / counts.sum()
        lo, hi, q = float(self.low), float(self.high), float(self.q)
        k_lo, k_hi = self._steps()
        if self.dist == "uniform":
            # k = floor(f / q), f ~ U[lo, hi + q): the measure of [k q, (k + 1) q) within.
            a, b, to, shift = lo, hi + q, (lambda x: x), 0
        else:
            # k = ceil(f / q), log f ~ U(log a, log hi]: the log-measure of ((k - 1) q, k q].
            a, b, to, shift = lo - min(q, lo / 2), hi, math.log, 1
        ks = np.arange(math.floor(a / q) - 1, math.ceil(b / q) + 2)
        mass = np.zeros(len(ks))
        for i, k in enumerate(ks.tolist()):
            e0, e1 = max((k - shift) * q, a), min((k + 1 - shift) * q, b)
            if e1 > e0:
                mass[i] = to(e1) - to(e0)
        mass /= mass.sum()
        probs = np.zeros(k_hi - k_lo + 1)  # the float-edge clip of draw folds stray mass inward
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
        return self._quantize(np.clip(k, *self._steps()))  # every draw in the domain

    def short(self) -> str:
        """A compact domain, e.g. ``{1, 2, 4}`` or ``8..1024/8``."""
        if self.values is not None:
            return "{" + ", ".join(fmt(v) for v in self.values) + "}"
        step = "" if self.q == 1 else f"/{fmt(self.q)}"
        return f"{fmt(self.low)}..{fmt(self.high)}{step}"

    def describe(self) -> str:
        """E.g. ``log_uniform over 8..1024 step 8 (128 values)``."""
        if self.values is not None:
            return f"uniform over {self.short()}"
        return f"{self.dist} over {fmt(self.low)}..{fmt(self.high)} step {fmt(self.q)} ({self.count()} values)"


@functools.lru_cache(maxsize=256)
def _pmf(p: Param) -> tuple[np.ndarray, np.ndarray]:
    values, probs = p._exact_pmf()
    values.flags.writeable = probs.flags.writeable = False
    return values, probs


def fmt(v: float) -> str:
    """A number as a person writes it: ``8``, ``0.25``."""
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def is_number(v: Any) -> bool:
    """A finite int or float no larger than MAX_NUMBER (not a bool; a huge int is not converted)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    if isinstance(v, float) and not math.isfinite(v):
        return False
    return abs(v) <= MAX_NUMBER  # an int compared, never converted
