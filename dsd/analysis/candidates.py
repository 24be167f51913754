"""Candidate refinements of a space: what ``dsd refine`` tests (how: :mod:`dsd.analysis.splits`).

In DDS a person reads a population's EDFs and picks the next constraint: share b, share g,
non-decreasing widths and depths, parameter ranges. Each such refinement is a predicate on the
*drawn* design, so a population already holds models that satisfy it and models that do not. A
:class:`Candidate` is one: a name, a kind and a :class:`~dsd.spaces.Constraints` value.

:func:`default_candidates` builds them from what the space's constraints may name
(:attr:`dsd.spaces.Space.allowed`) and from the population: the paper's shared parameters
(:data:`SHARED`), non-decreasing orders (and non-increasing ones, as controls) on every parameter
the space may order, and one-sided ranges (``<=``, ``>=``) at the population's quartiles on every
quantity it may bound. :func:`read_candidates` reads a user's candidates file.
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
from dsd.spaces import Constraints, Space

#: The parameters whose sharing the paper tests (b: AnyNetXB, g: AnyNetXC); one depth or width
#: for every stage would leave no stage structure, so they are not candidates.
SHARED = ("bottleneck_ratio", "group_width")
#: The longest candidate name (as a space name).
MAX_NAME = 100
#: The population quantiles at which range candidates are drawn.
QUANTILES = (0.25, 0.5, 0.75)
PLURAL = {
    "depth": "depths",
    "width": "widths",
    "bottleneck_ratio": "bottleneck ratios",
    "group_width": "group widths",
}


@dataclass(frozen=True)
class Candidate:
    """One refinement: its ``name``, ``kind`` (``shared``, ``non_decreasing``,
    ``non_increasing``, ``range`` or ``user``) and ``constraints``."""

    name: str
    kind: str
    constraints: Constraints

    @property
    def text(self) -> str:
        """The constraints in the space-file syntax, as JSON text (the table's column)."""
        return json.dumps(self.constraints.to_yaml_dict(), sort_keys=True)

    @classmethod
    def of(cls, name: str, constraints: Mapping[str, Any], kind: str = "user") -> Candidate:
        """A candidate from a constraints mapping in the space-file syntax."""
        return cls(name, kind, Constraints.parse(constraints, f"candidate {name!r}"))

    def holds(self, space: Space, design: Mapping[str, np.ndarray]) -> np.ndarray:
        """Which drawn designs satisfy this candidate (bool array)."""
        return space.satisfies(design, self.constraints)


def parse_constraints(text: str, where: str = "candidate") -> Constraints:
    """A candidate's constraints from its JSON text (the table's ``constraints`` column)."""
    return Constraints.parse(json.loads(text), where)


def design_arrays(df: pd.DataFrame, space: Space) -> dict[str, np.ndarray]:
    """The drawn design of each row: per-stage arrays (models x stages, NaN-padded) and, where
    the rows have them, the scalars of a generated (RegNet) design and the shared b and g.

    DsdError unless every row is a design of ``space``: generated designs (``depth``, ``w0``,
    ``wa``, ``wm``) exactly for a space of generated designs, and a finite value of every
    quantity its constraints may bound (a row of another stage count has none).
    """
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
    """The paper's kinds of refinement that ``space`` may still take, on the population ``design``.

    Orders on every parameter :attr:`~dsd.spaces.Space.allowed` may order that has more than one
    value and no order yet: shared (:data:`SHARED` only), non-decreasing and, as a control,
    non-increasing. Ranges ``q <= t`` and ``q >= t`` on every quantity it may bound, ``t`` the
    population's ``quantiles`` of ``q``; a quantity of every stage only where the stages share
    one value (else its stages are the quantities), and a quantity whose values repeat an
    earlier one's adds nothing.
    """
    out: list[Candidate] = []
    rule = space.constraints.rule
    free = [p for p in space.allowed.params if space.parameters[p].count() > 1 and not rule(p)]
    for p in free:
        if p in SHARED:
            out.append(_order("shared", p, f"shared {p.replace('_', ' ')}"))
    for p in free:
        out.append(_order("non_decreasing", p, f"non-decreasing {PLURAL[p]}"))
        out.append(_order("non_increasing", p, f"non-increasing {PLURAL[p]}"))
    for q, v in _quantities(space, design):
        for t in np.unique(np.quantile(v, quantiles, method="inverted_cdf")):
            t = float(t)
            out.append(_range(f"{q} <= {_num(t)}", q, None, t))
            out.append(_range(f"{q} >= {_num(t)}", q, t, None))
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


def _range(name: str, q: str, low: float | None, high: float | None) -> Candidate:
    return Candidate(name, "range", Constraints(ranges=((q, low, high),)))


def _num(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else f"{t:.4g}"


def read_candidates(path: str | os.PathLike, space: Space) -> list[Candidate]:
    """User candidates from a YAML file: a list under ``candidates:``, each a constraints mapping
    in the space-file syntax, optionally with a ``name`` (plain text, at most :data:`MAX_NAME`
    characters, each name once; by default the constraints as JSON)::

        candidates:
          - {name: shallow, ranges: {d: [null, 12]}}
          - {non_decreasing: [width, depth]}

    Each is validated as a child of ``space`` would be; errors name the file and the candidate.
    """
    p = Path(path)
    data = load_yaml(p)  # the limits and one-line errors of every user YAML file
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
    """A candidate's name as plain text: printable (a surrogate pair that YAML escapes gave as two
    characters is joined into one), at most :data:`MAX_NAME` characters."""
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
