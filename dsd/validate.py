"""Checks every artefact's validation shares (finite numbers, seeds, counts), so one rule gives
one message everywhere."""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from dsd.errors import DsdError

MAX_SEED = 2**32 - 1  # what numpy and torch accept as a seed everywhere
MAX_INT = 2**31 - 1  # no count, size or index dsd takes is larger
MAX_THREADS = 1024  # threads or processes on one machine (set_num_threads(100000) segfaults)


def check_seed(value: Any, where: str = "seed") -> int:
    """``value`` as a seed: an integer in [0, 2**32 - 1]; DsdError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise DsdError(f"{where} must be an integer from 0 to {MAX_SEED}, got {value!r}")
    return value


def check_numbers(obj: Any, where: str = "") -> None:
    """Every float field of dataclass ``obj`` is finite and every int field is at most 2**32 - 1 in size."""
    prefix = f"{where} " if where else ""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)  # a bool is an int, never out of range
        if isinstance(value, float) and not math.isfinite(value):
            raise DsdError(f"{prefix}{f.name} must be a finite number, got {value}")
        if isinstance(value, int) and abs(value) > MAX_SEED:
            raise DsdError(f"{prefix}{f.name} is out of range: {value}")


#: Unit suffixes of counts (flops, params, acts), case-insensitive: 360M = 360m = 3.6e8.
COUNT_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
_COUNT = re.compile(
    r"\s*([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*([kKmMgGtT]?)\s*"
)


def parse_count(value: Any, where: str = "value") -> float:
    """A finite count from a number or text: ``4e8``, ``'360M'``, ``'360m'``, ``'0.4G'``, ``'1T'``.

    >>> parse_count("360M"), parse_count("0.4g"), parse_count(5)
    (360000000.0, 400000000.0, 5.0)
    """
    if isinstance(value, str) and (m := _COUNT.fullmatch(value)):
        value = float(m.group(1)) * COUNT_UNITS[m.group(2).lower()]
    if not isinstance(value, bool) and isinstance(value, int | float):
        try:
            if math.isfinite(float(value)):
                return float(value)
        except OverflowError:  # an integer beyond any float
            pass
    raise DsdError(f"{where}: expected a number such as 360M or 4e8, got {value!r}"[:300])


def parse_range(text: str, where: str = "range") -> tuple[float, float]:
    """``'LO:HI'`` as a closed range of counts; either side may be left out (``'360M:'``).

    >>> parse_range("360M:400M"), parse_range("360m:")
    ((360000000.0, 400000000.0), (360000000.0, inf))
    """
    lo_s, sep, hi_s = str(text).partition(":")
    if not sep:
        raise DsdError(f"{where}: {text!r} is not a range LO:HI (e.g. 360M:400M or 360e6:400e6)")
    lo = parse_count(lo_s, where) if lo_s.strip() else 0.0
    hi = parse_count(hi_s, where) if hi_s.strip() else math.inf
    if lo < 0:
        raise DsdError(f"{where}: {text!r} has a negative low end")
    if lo > hi:
        raise DsdError(f"{where}: {text!r} is reversed (low > high)")
    return lo, hi
