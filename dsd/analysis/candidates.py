"""Candidate refinements of a space, what ``dsd refine`` tests: predicates on the drawn design
(docs/POPULATIONS.md §10), built from the space and the population or read from a user's file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dsd.analysis.data import stack
from dsd.errors import DsdError
from dsd.io import load_yaml
from dsd.schema import DESIGN_COLUMNS, REGNET_COLUMNS
from dsd.spaces import ORDERS, Constraints, Space

#: The parameters whose sharing the paper tests (b: AnyNetXB, g: AnyNetXC).
SHARED = ("bottleneck_ratio", "group_width")
#: The longest candidate name (as a space name).
MAX_NAME = 100
#: The population quantiles at which range candidates are drawn.
QUANTILES = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class Candidate:
    """One refinement: ``kind`` is shared, non_decreasing, non_increasing, range or user."""

    name: str
    kind: str
    constraints: Constraints

    @property
    def text(self) -> str:
        """The constraints in the space-file syntax, as JSON text (the table's column)."""
        return json.dumps(self.constraints.to_yaml_dict(), sort_keys=True)

    def holds(self, space: Space, design: Mapping[str, np.ndarray]) -> np.ndarray:
        """Which drawn designs satisfy this candidate (bool array)."""
        return space.satisfies(design, self.constraints)


def parse_constraints(text: str, where: str = "candidate") -> Constraints:
    """A candidate's constraints from its JSON text (the table's ``constraints`` column)."""
    return Constraints.parse(json.loads(text), where)


def design_arrays(df: pd.DataFrame, space: Space) -> dict[str, np.ndarray]:
    """The drawn design of each row (per-stage arrays NaN-padded; RegNet scalars, shared b and g
    where present); DsdError unless every row is a design of ``space``."""
    missing = [c for c in DESIGN_COLUMNS if c not in df.columns]
    if missing:
        raise DsdError(f"results have no design column(s) {', '.join(missing)}")
    out = {c: stack(df[c]) for c in DESIGN_COLUMNS}
    for c in (*REGNET_COLUMNS, *SHARED):
        if c in df.columns:
            out[c] = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
    generated = set(REGNET_COLUMNS) <= set(space.PARAMETERS)
    if generated != all(c in out and np.isfinite(out[c]).all() for c in REGNET_COLUMNS):
        rows = "are not" if generated else "are"
        raise DsdError(
            f"{space.name} is a {space.kind} space but its rows {rows} generated designs "
            f"(columns {', '.join(REGNET_COLUMNS)}); refine a population with its own space"
        )
    for q in space.allowed.quantities:
        try:
            v = np.asarray(space.quantity(q, out), dtype=float).reshape(len(df), -1)
        except (IndexError, KeyError):
            v = np.full((len(df), 1), np.nan)
        bad = ~np.isfinite(v).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DsdError(
                f"model {df['model_id'].iloc[i]} is not a design of {space.name}: it has no "
                f"value of {q} (rows of another stage count or kind)"
            )
    return out


def default_candidates(
    space: Space, design: Mapping[str, np.ndarray], quantiles: Sequence[float] = QUANTILES
) -> list[Candidate]:
    """The paper's kinds of refinement that ``space`` may still take, on the population ``design``:
    orders on every free parameter (shared for :data:`SHARED`; non-decreasing and, as a control,
    non-increasing) and ranges ``q <= t``, ``q >= t`` at the ``quantiles`` of each quantity."""
    rule = space.constraints.rule
    free = [p for p in space.allowed.params if space.parameters[p].count() > 1 and not rule(p)]
    word = {p: p.replace("_", " ") for p in free}
    out = [_order("shared", p, f"shared {word[p]}") for p in free if p in SHARED]
    for p in free:
        out += [_order(k, p, f"{w} {word[p]}s") for k, w in ORDERS.items() if k != "shared"]
    for q, v in _quantities(space, design):
        for t in np.unique(np.quantile(v, quantiles, method="inverted_cdf")).tolist():
            num = str(int(t)) if float(t).is_integer() else f"{t:.4g}"
            for op, low, high in (("<=", None, t), (">=", t, None)):
                ranges = Constraints(ranges=((q, low, high),))
                out.append(Candidate(f"{q} {op} {num}", "range", ranges))
    return out


def _quantities(space: Space, design: Mapping[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """``(name, finite values)`` of each quantity the space may bound, one value a model."""
    out: list[tuple[str, np.ndarray]] = []
    seen: list[np.ndarray] = []
    for q in space.allowed.quantities:
        v = space.quantity(q, design)
        if v.ndim == 2:  # every stage: one value only where the stages share it
            if not np.all(v == v[:, :1]):
                continue
            v = v[:, 0]
        if any(np.array_equal(v, s, equal_nan=True) for s in seen):
            continue
        seen.append(v)
        v = v[np.isfinite(v)]
        if v.size:
            out.append((q, v))
    return out


def _order(kind: str, param: str, name: str) -> Candidate:
    return Candidate(name, kind, Constraints(**{kind: (param,)}))


def read_candidates(path: str | os.PathLike, space: Space) -> list[Candidate]:
    """User candidates from YAML (``candidates: [{name: shallow, ranges: {d: [null, 12]}}]``),
    each validated as a child of ``space`` would be."""
    p = Path(path)
    data = load_yaml(p)
    items = data.get("candidates") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise DsdError(f"{p}: expected a non-empty list under 'candidates:'")
    out: list[Candidate] = []
    for i, item in enumerate(items):
        where = f"{p}: candidates[{i}]"
        if not isinstance(item, dict):
            raise DsdError(f"{where}: expected a mapping of constraints")
        raw = {k: v for k, v in item.items() if k != "name"}
        if not raw:
            raise DsdError(f"{where}: no constraint given")
        constraints = Constraints.parse(raw, where).check(where, space.allowed)
        space.constraints.merge(constraints).check(where, space.allowed)
        name = item.get("name")
        name = json.dumps(raw, sort_keys=True) if name in (None, "") else plain_name(name, where)
        if any(c.name == name for c in out):
            raise DsdError(f"{where}: name {name!r} given twice; give each candidate its own")
        out.append(Candidate(name, "user", constraints))
    return out


def plain_name(name: Any, where: str) -> str:
    """A candidate's name as printable text of at most :data:`MAX_NAME` characters."""
    text = str(name)
    try:  # YAML's "\\ud83d\\ude00" is two lone surrogates: join them into one character
        text = text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeError:
        pass
    if not text.isprintable() or not text.strip():
        shown = text.encode("unicode_escape").decode("ascii")[:120]
        raise DsdError(
            f"{where}: name {shown!r} is empty or has a line break or another control "
            "character; a candidate name is plain text"
        )
    if len(text) > MAX_NAME:
        raise DsdError(f"{where}: name longer than {MAX_NAME} characters ({len(text)})")
    return text
