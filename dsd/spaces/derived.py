"""Constraints on derived quantities of a design: ``ranges`` and ``non_increasing``.

The YAML keys ``shared`` and ``non_decreasing`` shape how a space is *drawn*; the constraints of
this module *condition* a space on a predicate of the drawn design (what ``dsd refine`` writes):

- ``non_increasing: [width]``: ``x_{i+1} <= x_i`` for a per-stage parameter (the control of
  ``non_decreasing``);
- ``ranges: {QUANTITY: [low, high]}``: closed one- or two-sided bounds (``null`` for an open side)
  on a quantity of the drawn design:

  ===============================  =====================================================
  ``depth``, ``width``,            every stage's value (anynet)
  ``bottleneck_ratio``,
  ``group_width``
  ``d1``.., ``w1``.., ``b1``..,    one stage's depth, width, bottleneck ratio, group width
  ``g1``..                         (anynet)
  ``d``                            total depth: sum of stage depths (anynet) or the
                                   RegNet ``depth``
  ``w0``, ``wa``, ``wm``,          the RegNet parameters (regnet)
  ``bottleneck_ratio``,
  ``group_width``
  ===============================  =====================================================

A sampled space keeps the draws of its parent that satisfy every constraint (rejection), so it
is the parent conditioned on them. :func:`mask` evaluates them on a batch of candidates,
:func:`count` gives the exact size of a space under them (a dynamic programme over the stages),
:func:`check` validates the YAML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dsd.errors import SpaceError
from dsd.spaces.params import _fmt

#: per-stage parameter -> its row column (drawn design) and short name
STAGE_COLUMNS = {
    "depth": ("depths", "d"),
    "width": ("widths", "w"),
    "bottleneck_ratio": ("bottleneck_ratios", "b"),
    "group_width": ("group_widths", "g"),
}
SHORT = {short: name for name, (_, short) in STAGE_COLUMNS.items()}
REGNET_QUANTITIES = ("d", "w0", "wa", "wm", "bottleneck_ratio", "group_width")
#: regnet quantity -> the candidate/row column holding it
REGNET_COLUMNS = {
    "d": "depth",
    "w0": "w0",
    "wa": "wa",
    "wm": "wm",
    "bottleneck_ratio": "bottleneck_ratio",
    "group_width": "group_width",
}

Ranges = tuple[tuple[str, float | None, float | None], ...]


def quantities(kind: str, stages: int) -> list[str]:
    """The names a ``ranges`` constraint may bound in a space of this kind and stage count."""
    if kind == "regnet":
        return list(REGNET_QUANTITIES)
    per_stage = [f"{s}{i + 1}" for s in SHORT for i in range(stages)]
    return [*STAGE_COLUMNS, "d", *per_stage]


def parse_quantity(name: str, stages: int) -> tuple[str, int | None]:
    """``'w2'`` -> ``('width', 1)``; ``'width'`` -> ``('width', None)``; ``'d'`` -> ``('d', None)``."""
    if name in STAGE_COLUMNS or name == "d":
        return name, None
    return SHORT[name[0]], int(name[1:]) - 1


def check(path: Path, kind: str, stages: int, c: Mapping[str, Any]) -> None:
    """Validate ``constraints.ranges`` and ``constraints.non_increasing`` (SpaceError on a problem)."""
    if "non_increasing" in c:
        v = c["non_increasing"]
        allowed = tuple(STAGE_COLUMNS) if kind == "anynet" else ()
        if not isinstance(v, list):
            raise SpaceError(
                f"{path}: constraints.non_increasing: expected a list of parameter names"
            )
        for x in v:
            if x not in allowed:
                what = ", ".join(allowed) if allowed else "nothing (RegNet stages are generated)"
                raise SpaceError(
                    f"{path}: constraints.non_increasing: {x!r} not allowed (allowed: {what})"
                )
        for other in ("shared", "non_decreasing"):
            both = set(v) & set(c.get(other, []) or [])
            if both:
                raise SpaceError(
                    f"{path}: constraints: {sorted(both)[0]!r} is both non_increasing and {other}"
                    + (
                        " (that leaves only constant values: use shared)"
                        if other != "shared"
                        else ""
                    )
                )
    if "ranges" not in c:
        return
    r = c["ranges"]
    allowed = quantities(kind, stages)
    if not isinstance(r, dict):
        raise SpaceError(
            f"{path}: constraints.ranges: expected a mapping QUANTITY: [low, high] "
            f"(allowed quantities: {', '.join(allowed)})"
        )
    for k, v in r.items():
        if k not in allowed:
            raise SpaceError(
                f"{path}: constraints.ranges: unknown quantity {k!r} for a {kind} space "
                f"(allowed: {', '.join(allowed)})"
            )
        ok = isinstance(v, list) and len(v) == 2 and all(x is None or _is_number(x) for x in v)
        if not ok or v == [None, None]:
            raise SpaceError(
                f"{path}: constraints.ranges.{k}: expected [low, high] numbers, "
                f"null for an open side, got {v!r}"
            )
        if v[0] is not None and v[1] is not None and v[0] > v[1]:
            raise SpaceError(f"{path}: constraints.ranges.{k}: reversed range {v}")


def _is_number(v: Any) -> bool:
    """A finite int or float (not a bool; YAML's .nan and .inf are refused)."""
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and math.isfinite(v))


def merge_ranges(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """A child's ``ranges`` over its parent's: bounds on the same quantity intersect (a refinement
    only narrows). Malformed entries are passed through for :func:`check` to report."""
    out = dict(base)
    for k, v in child.items():
        old = out.get(k)
        ok = all(isinstance(x, list) and len(x) == 2 for x in (old, v))
        if not ok:
            out[k] = v
            continue
        lo = [x for x in (old[0], v[0]) if x is not None]
        hi = [x for x in (old[1], v[1]) if x is not None]
        out[k] = [max(lo) if lo else None, min(hi) if hi else None]
    return out


def as_tuple(ranges: Mapping[str, Any] | None) -> Ranges:
    """Validated ``ranges`` as a hashable tuple ``((quantity, low, high), ...)``, sorted by name."""
    return tuple(
        (k, None if v[0] is None else float(v[0]), None if v[1] is None else float(v[1]))
        for k, v in sorted((ranges or {}).items())
    )


# --- evaluation ---------------------------------------------------------------------------------


def values(name: str, design: Mapping[str, np.ndarray], kind: str, stages: int) -> np.ndarray:
    """The quantity ``name`` for each design: shape (n,), or (n, stages) for a stage-wide name.

    ``design`` holds the drawn per-stage arrays ``depths``, ``widths``, ``bottleneck_ratios``,
    ``group_widths`` (n x stages) and, for RegNet, the arrays ``depth``, ``w0``, ``wa``, ``wm``,
    ``bottleneck_ratio``, ``group_width``.
    """
    if kind == "regnet":
        return np.asarray(design[REGNET_COLUMNS[name]], dtype=float)
    param, stage = parse_quantity(name, stages)
    if param == "d":
        return np.asarray(design["depths"], dtype=float).sum(axis=1)
    a = np.asarray(design[STAGE_COLUMNS[param][0]], dtype=float)
    return a if stage is None else a[:, stage]


def mask(space, design: Mapping[str, np.ndarray]) -> np.ndarray:
    """Which designs satisfy the space's ``non_increasing`` and ``ranges`` constraints (bool array)."""
    n = len(design["depths"])
    out = np.ones(n, dtype=bool)
    if n == 0:
        return out
    for p in getattr(space, "non_increasing", ()):
        a = np.asarray(design[STAGE_COLUMNS[p][0]])
        out &= np.all(a[:, 1:] <= a[:, :-1], axis=1)
    for name, lo, hi in getattr(space, "ranges", ()):
        v = values(name, design, space.kind, space.stages)
        ok = _inside(v, lo, hi)
        out &= ok if ok.ndim == 1 else np.all(ok, axis=1)
    return out


# --- exact size ---------------------------------------------------------------------------------


def count(space) -> int:
    """Exact number of configurations of ``space`` (as declared, before the compatibility rule).

    AnyNet: a product over the per-stage parameters of the number of value sequences that satisfy
    that parameter's constraints (shared, non-decreasing, non-increasing, per-stage bounds, and
    for depths the total-depth bound), each counted by a dynamic programme over the stages. RegNet:
    the product of the parameter grids restricted to their ranges.
    """
    bounds = {name: (lo, hi) for name, lo, hi in getattr(space, "ranges", ())}
    if space.kind == "regnet":
        total = 1
        for k, p in space.parameters.items():
            g = np.unique(p.grid())  # a value listed twice is one configuration, as Param.count
            q = "d" if k == "depth" else k
            lo, hi = bounds.get(q, (None, None))
            total *= int(np.sum(_inside(g, lo, hi)))
        return total
    s = space.stages
    total = 1
    for k, p in space.parameters.items():
        g = np.unique(p.grid())  # a value listed twice is one configuration, as Param.count
        allowed = np.ones((s, len(g)), dtype=bool)
        short = STAGE_COLUMNS[k][1]
        for i in range(s):
            for q in (k, f"{short}{i + 1}"):
                if q in bounds:
                    allowed[i] &= _inside(g, *bounds[q])
        sum_bound = bounds.get("d") if k == "depth" else None
        total *= _count_sequences(
            g,
            allowed,
            shared=k in space.shared,
            up=k in space.non_decreasing,
            down=k in getattr(space, "non_increasing", ()),
            sum_bound=sum_bound,
        )
    return total


def _inside(g: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    """Elementwise ``lo <= g <= hi`` (a None side is open), with a float tolerance."""
    ok = np.ones(np.shape(g), dtype=bool)
    if lo is not None:
        ok &= g >= lo - 1e-9
    if hi is not None:
        ok &= g <= hi + 1e-9
    return ok


def _count_sequences(g, allowed, *, shared, up, down, sum_bound) -> int:
    """Number of sequences ``(v_1..v_S)`` over the grid ``g`` with ``v_i`` allowed at stage ``i``,
    ordered as asked, all equal if ``shared``, and ``sum v_i`` within ``sum_bound`` (integer grids)."""
    s, m = allowed.shape
    lo, hi = sum_bound if sum_bound is not None else (None, None)
    if shared:
        ok = np.all(allowed, axis=0) & _inside(g * s, lo, hi)
        return int(ok.sum())
    if sum_bound is None:
        # state: number of sequences ending in value j (Python ints: exact at any size)
        ways = [int(a) for a in allowed[0]]
        for i in range(1, s):
            ways = _step(ways, allowed[i], up, down)
        return sum(ways)
    # integer values (depths): state (last value j, running sum) as a dict of counts
    gi = [round(float(v)) for v in g]
    state: dict[tuple[int, int], int] = {(j, gi[j]): 1 for j in range(m) if allowed[0, j]}
    for i in range(1, s):
        nxt: dict[tuple[int, int], int] = {}
        for (j, tot), c in state.items():
            for k in range(m):
                if not allowed[i, k] or (up and k < j) or (down and k > j):
                    continue
                key = (k, tot + gi[k])
                nxt[key] = nxt.get(key, 0) + c
        state = nxt
    return sum(
        c
        for (_, tot), c in state.items()
        if (lo is None or tot >= lo) and (hi is None or tot <= hi)
    )


def _step(ways: list[int], allowed_row, up: bool, down: bool) -> list[int]:
    m = len(ways)
    if up:  # v_i >= v_{i-1}: prefix sums
        acc, out = 0, []
        for j in range(m):
            acc += ways[j]
            out.append(acc if allowed_row[j] else 0)
        return out
    if down:  # v_i <= v_{i-1}: suffix sums
        acc, out = 0, [0] * m
        for j in range(m - 1, -1, -1):
            acc += ways[j]
            out[j] = acc if allowed_row[j] else 0
        return out
    tot = sum(ways)
    return [tot if a else 0 for a in allowed_row]


def describe(ranges: Ranges) -> str:
    """Ranges in words, e.g. ``d <= 20, 16 <= w1``."""
    parts = []
    for name, lo, hi in ranges:
        if lo is not None and hi is not None:
            parts.append(f"{_fmt(lo)} <= {name} <= {_fmt(hi)}")
        elif hi is not None:
            parts.append(f"{name} <= {_fmt(hi)}")
        else:
            parts.append(f"{name} >= {_fmt(lo)}")
    return ", ".join(parts)
