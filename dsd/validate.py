"""Checks shared by every artefact's validation: numbers that must be finite, seeds in range.

Each artefact (train recipe, executor settings, space, experiment, command line) validates its
own fields in one place; these helpers make sure the same rule gives the same one-line message
everywhere.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from dsd.errors import DsdError

MAX_SEED = 2**32 - 1  # what numpy and torch accept as a seed everywhere
MAX_INT = 2**31 - 1  # no count, size or index dsd takes is larger


def check_seed(value: Any, where: str = "seed") -> int:
    """``value`` as a seed: an integer in [0, 2**32 - 1]; DsdError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise DsdError(f"{where} must be an integer from 0 to {MAX_SEED}, got {value!r}")
    return value


def check_numbers(obj: Any, where: str = "") -> None:
    """Every float field of dataclass ``obj`` is finite and every int field fits in 31 bits."""
    prefix = f"{where} " if where else ""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, bool):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise DsdError(f"{prefix}{f.name} must be a finite number, got {value}")
        if isinstance(value, int) and abs(value) > MAX_SEED:
            raise DsdError(f"{prefix}{f.name} is out of range: {value}")
