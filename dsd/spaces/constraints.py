"""The constraints of a space: one value that loads, validates, merges, counts and writes itself.

The file format is in docs/CONTRACTS.md (artefact 1); what a space's constraints may name is the
space's to say (:attr:`dsd.spaces.Space.allowed`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dsd.errors import SpaceError
from dsd.spaces.params import fmt, is_number

MAX_STAGES = 16

Range = tuple[str, float | None, float | None]


@dataclass(frozen=True)
class Allowed:
    """What the constraints of one kind of space may name."""

    kind: str
    params: tuple[str, ...]  # for the orders: shared, non_decreasing, non_increasing
    quantities: tuple[str, ...]  # for ranges
    num_stages: bool = False


def _order(words: str):
    """A constraint that orders the stages of per-stage parameters (its ``words`` for people)."""
    return field(default=(), metadata={"words": words})


@dataclass(frozen=True)
class Constraints:
    """All constraints of a space; its fields are the one list of constraint kinds."""

    shared: tuple[str, ...] = _order("shared")
    non_decreasing: tuple[str, ...] = _order("non-decreasing")
    non_increasing: tuple[str, ...] = _order("non-increasing")
    ranges: tuple[Range, ...] = ()  # (quantity, low, high), sorted by quantity; None: open side
    num_stages: tuple[int, int] | None = None

    @classmethod
    def parse(cls, raw: Any, where: str) -> Constraints:
        """One file's ``constraints`` mapping, checked for shape (:meth:`check` checks names)."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise SpaceError(f"{where}: constraints: expected a mapping of {', '.join(KINDS)}")
        unknown = [k for k in raw if k not in KINDS]
        if unknown:
            raise SpaceError(
                f"{where}: constraints: unknown key {unknown[0]!r} (allowed: {', '.join(KINDS)})"
            )
        out: dict[str, Any] = {}
        for kind in [k for k in ORDERS if k in raw]:
            if not isinstance(raw[kind], list):
                raise SpaceError(f"{where}: constraints.{kind}: expected a list of parameter names")
            out[kind] = _union((), raw[kind])
        if "ranges" in raw:
            out["ranges"] = _parse_ranges(raw["ranges"], where)
        if "num_stages" in raw:
            out["num_stages"] = _parse_num_stages(raw["num_stages"], where)
        return cls(**out)

    def check(self, where: str, allowed: Allowed) -> Constraints:
        """``self`` if every name is one ``allowed`` and no two constraints contradict."""
        for kind in ORDERS:
            for p in getattr(self, kind):
                if p not in allowed.params:
                    what = ", ".join(allowed.params) or "nothing (RegNet stages are generated)"
                    raise SpaceError(
                        f"{where}: constraints.{kind}: {p!r} not allowed (allowed: {what})"
                    )
        for first, second in itertools.combinations(ORDERS, 2):
            both = [p for p in getattr(self, first) if p in getattr(self, second)]
            if both:
                hint = (
                    "" if first == "shared" else " (that leaves only constant values: use shared)"
                )
                raise SpaceError(
                    f"{where}: constraints: {both[0]!r} is both {second} and {first}{hint}"
                )
        for q, low, high in self.ranges:
            if q not in allowed.quantities:
                raise SpaceError(
                    f"{where}: constraints.ranges: unknown quantity {q!r} for a {allowed.kind} "
                    f"space (allowed: {', '.join(allowed.quantities)})"
                )
            if low is not None and high is not None and low > high:
                raise SpaceError(
                    f"{where}: constraints.ranges.{q}: reversed range [{fmt(low)}, {fmt(high)}]"
                )
        if self.num_stages is not None and not allowed.num_stages:
            raise SpaceError(
                f"{where}: constraints.num_stages: only for regnet spaces (use 'stages' for anynet)"
            )
        return self

    def merge(self, child: Constraints) -> Constraints:
        """``child``'s added to these (not yet checked): lists join, ranges on one quantity
        intersect, a child's ``num_stages`` replaces its parent's."""
        bounds = self.bounds()
        for q, low, high in child.ranges:
            old_low, old_high = bounds.get(q, (None, None))
            lows = [x for x in (old_low, low) if x is not None]
            highs = [x for x in (old_high, high) if x is not None]
            bounds[q] = (max(lows) if lows else None, min(highs) if highs else None)
        return Constraints(
            **{k: _union(getattr(self, k), getattr(child, k)) for k in ORDERS},
            ranges=tuple((q, *bounds[q]) for q in sorted(bounds)),
            num_stages=child.num_stages or self.num_stages,
        )

    def bounds(self) -> dict[str, tuple[float | None, float | None]]:
        """``{quantity: (low, high)}`` of the ranges."""
        return {q: (low, high) for q, low, high in self.ranges}

    def rule(self, param: str) -> str:
        """The order on a per-stage parameter (a key of :data:`ORDERS`, or ``""``)."""
        return next((k for k in ORDERS if param in getattr(self, k)), "")

    def to_yaml_dict(self) -> dict[str, Any]:
        """The ``constraints`` mapping of a space file (what :meth:`parse` reads back)."""
        out: dict[str, Any] = {k: list(getattr(self, k)) for k in ORDERS if getattr(self, k)}
        if self.ranges:
            out["ranges"] = {q: [_plain(low), _plain(high)] for q, low, high in self.ranges}
        if self.num_stages is not None:
            out["num_stages"] = list(self.num_stages)
        return out

    def words(self, parent: Constraints | None = None) -> list[str]:
        """Each constraint (that ``parent`` lacks) in words: ``d <= 20``, ``num_stages [3, 4]``."""
        base = parent or Constraints()
        out = [
            f"{w} {p}"
            for k, w in ORDERS.items()
            for p in getattr(self, k)
            if p not in getattr(base, k)
        ]
        out += [_range_words(r) for r in self.ranges if r not in base.ranges]
        if self.num_stages is not None and self.num_stages != base.num_stages:
            out.append(f"num_stages {list(self.num_stages)}")
        return out


UNCONSTRAINED = Constraints()
#: The kinds of constraint, and those that order stages with their words.
KINDS = tuple(f.name for f in dataclasses.fields(Constraints))
ORDERS = {f.name: f.metadata["words"] for f in dataclasses.fields(Constraints) if f.metadata}


def ordered(kind: str, values: np.ndarray) -> np.ndarray:
    """Which rows of ``values`` (models x stages) satisfy the order ``kind`` (bool array)."""
    if kind == "shared":
        return np.all(values == values[:, :1], axis=1)
    step = np.diff(values, axis=1)
    return np.all(step >= 0 if kind == "non_decreasing" else step <= 0, axis=1)


def inside(values: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    """Elementwise ``low <= values <= high`` (a None side is open), with a float tolerance."""
    ok = np.ones(np.shape(values), dtype=bool)
    if low is not None:
        ok &= values >= low - 1e-9
    if high is not None:
        ok &= values <= high + 1e-9
    return ok


def count_sequences(grid: np.ndarray, allowed: np.ndarray, rule: str, total=None) -> int:
    """Number of sequences over ``grid`` with ``v_i`` allowed at stage ``i`` (``allowed``: stages
    x values), in the order ``rule``, with ``sum v_i`` within ``total`` = (low, high) if given."""
    stages, m = allowed.shape
    low, high = total if total is not None else (None, None)
    if rule == "shared":
        return int((np.all(allowed, axis=0) & inside(grid * stages, low, high)).sum())
    if total is None:  # state: the number of sequences ending in value j (exact Python ints)
        ways = [int(a) for a in allowed[0]]
        for i in range(1, stages):
            ways = _step(ways, allowed[i], rule)
        return sum(ways)
    ints = [round(float(v)) for v in grid]  # state: (last value j, running sum) -> count
    state: dict[tuple[int, int], int] = {(j, ints[j]): 1 for j in range(m) if allowed[0, j]}
    for i in range(1, stages):
        nxt: dict[tuple[int, int], int] = {}
        for (j, tot), c in state.items():
            for k in np.flatnonzero(allowed[i]):
                if (rule == "non_decreasing" and k < j) or (rule == "non_increasing" and k > j):
                    continue
                key = (int(k), tot + ints[k])
                nxt[key] = nxt.get(key, 0) + c
        state = nxt
    return sum(
        c
        for (_, tot), c in state.items()
        if (low is None or tot >= low - 1e-9) and (high is None or tot <= high + 1e-9)
    )


def _step(ways: list[int], allowed_row: np.ndarray, rule: str) -> list[int]:
    """Sequences one stage longer: prefix sums (non-decreasing), suffix sums (non-increasing)."""
    if rule == "non_decreasing":
        sums = np.cumsum(np.array(ways, dtype=object))
    elif rule == "non_increasing":
        sums = np.cumsum(np.array(ways[::-1], dtype=object))[::-1]
    else:
        sums = [sum(ways)] * len(ways)
    return [int(s) if a else 0 for s, a in zip(sums, allowed_row, strict=True)]


def _union(first, second) -> tuple:
    """The items of both, in order, each once (unhashable items too: check reports them)."""
    out: list = []
    for x in [*first, *second]:
        if x not in out:
            out.append(x)
    return tuple(out)


def _parse_ranges(raw: Any, where: str) -> tuple[Range, ...]:
    if not isinstance(raw, Mapping):
        raise SpaceError(
            f"{where}: constraints.ranges: expected a mapping QUANTITY: [low, high] "
            "(null for an open side)"
        )
    out = []
    for q, v in raw.items():
        ok = isinstance(v, list) and len(v) == 2 and all(x is None or is_number(x) for x in v)
        if not ok or v == [None, None]:
            raise SpaceError(
                f"{where}: constraints.ranges.{q}: expected [low, high] numbers, "
                f"null for an open side, got {v!r}"[:300]
            )
        out.append((str(q), *(None if x is None else float(x) for x in v)))
    return tuple(sorted(out))


def _parse_num_stages(v: Any, where: str) -> tuple[int, int]:
    whole = isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
    if not whole or len(v) != 2 or not all(1 <= x <= MAX_STAGES for x in v):
        raise SpaceError(
            f"{where}: constraints.num_stages: expected [min, max] integers from 1 to "
            f"{MAX_STAGES}, got {v!r}"[:300]
        )
    if v[0] > v[1]:
        raise SpaceError(f"{where}: constraints.num_stages: reversed range {v}")
    return v[0], v[1]


def _plain(x: float | None) -> int | float | None:
    """A bound as YAML shows it best: 20 rather than 20.0."""
    return int(x) if x is not None and float(x).is_integer() else x


def _range_words(r: Range) -> str:
    q, low, high = r
    if low is None or high is None:
        return f"{q} <= {fmt(high)}" if low is None else f"{q} >= {fmt(low)}"
    return f"{fmt(low)} <= {q} <= {fmt(high)}"
