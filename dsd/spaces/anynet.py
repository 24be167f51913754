"""AnyNet design spaces (DDS §3.2): per-stage parameters drawn from their distributions,
conditioned on the space's constraints (docs/POPULATIONS.md; ranges by rejection)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from dsd.errors import SpaceError
from dsd.schema import PARAMETERS
from dsd.spaces.constraints import Allowed, count_sequences, inside
from dsd.spaces.params import Param
from dsd.spaces.space import Batch, Space, stage_batch

MAX_COUNT_STATES = 10**6


@dataclass(frozen=True)
class AnyNetSpace(Space):
    """An AnyNet space: ``stages`` stages with ``strides``, per-stage d, w, b, g."""

    stages: int = 4
    strides: tuple[int, ...] = (2, 2, 2, 2)

    kind: ClassVar[str] = "anynet"
    PARAMETERS: ClassVar[tuple[str, ...]] = ("depth", "width", "bottleneck_ratio", "group_width")

    @property
    def allowed(self) -> Allowed:
        """Orders on any parameter; ranges on a parameter, ``d`` (total depth), ``w1``, ..."""
        shorts = [PARAMETERS[p][0] for p in self.PARAMETERS]
        per_stage = [f"{s}{i + 1}" for s in shorts for i in range(self.stages)]
        return Allowed(self.kind, self.PARAMETERS, (*self.PARAMETERS, "d", *per_stage))

    @property
    def size(self) -> int:
        """Exact: the product over parameters of the stage sequences the constraints allow
        (non-decreasing: multisets, ``C(m + S - 1, S)``, not ``m**S / S!``)."""
        bounds = self.constraints.bounds()
        total = 1
        for k, p in self.parameters.items():
            grid = np.unique(p.grid())  # a value listed twice is one configuration
            allowed = np.ones((self.stages, len(grid)), dtype=bool)
            for i in range(self.stages):
                for q in (k, f"{PARAMETERS[k][0]}{i + 1}"):
                    allowed[i] &= inside(grid, *bounds.get(q, (None, None)))
            depth_range = bounds.get("d") if k == "depth" else None
            if depth_range and len(grid) * self.stages * grid.max() > MAX_COUNT_STATES:
                raise SpaceError(
                    f"{self.source}: constraints.ranges.d: a total-depth range needs a smaller "
                    f"depth domain to be counted exactly ({len(grid)} values up to {grid.max():g})"
                )
            total *= count_sequences(grid, allowed, self.constraints.rule(k), depth_range)
        return total

    @property
    def degrees_of_freedom(self) -> int:
        return sum(
            1 if self.constraints.rule(k) == "shared" else self.stages
            for k, p in self.parameters.items()
            if p.count() > 1
        )

    def draw(self, rng: np.random.Generator, count: int) -> list[Batch]:
        """One batch, each parameter drawn conditioned on its order; shared b and g as scalars."""
        v = {
            k: draw_conditioned(p, rng, count, self.stages, self.constraints.rule(k))
            for k, p in self.parameters.items()
        }
        batch = stage_batch(
            v["depth"], v["width"], v["group_width"], v["bottleneck_ratio"], self.strides
        )
        for k in ("bottleneck_ratio", "group_width"):
            if self.constraints.rule(k) == "shared":
                batch[k] = batch[PARAMETERS[k][1]][:, 0].copy()
        return [batch]

    def quantity(self, name: str, design: Mapping[str, np.ndarray]) -> np.ndarray:
        """``d``: total depth; a parameter: every stage's value; ``w2``: stage 2's width."""
        if name == "d":
            return np.asarray(design["depths"], dtype=float).sum(axis=1)
        param = name if name in self.PARAMETERS else SHORT[name[0]]
        values = np.asarray(design[PARAMETERS[param][1]], dtype=float)
        return values if param == name else values[:, int(name[1:]) - 1]

    def layout(self) -> str:
        return f"{self.stages}, strides {list(self.strides)}"


#: Short form -> per-stage parameter of an AnyNet (``w`` -> ``width``).
SHORT = {PARAMETERS[p][0]: p for p in AnyNetSpace.PARAMETERS}


def draw_conditioned(
    p: Param, rng: np.random.Generator, count: int, stages: int, rule: str = ""
) -> np.ndarray:
    """``count`` draws ``(count, stages)`` of ``p``'s independent stages conditioned on the
    order ``rule`` (docs/POPULATIONS.md): ``P(v) ∝ prod_i p(v_i)`` over the ordered sequences."""
    if rule == "":
        return p.draw(rng, (count, stages))
    if rule == "non_increasing":
        return draw_conditioned(p, rng, count, stages, "non_decreasing")[:, ::-1]
    values, probs = p.pmf()
    if rule == "shared":
        w = probs**stages
        idx = rng.choice(len(values), size=(count, 1), p=w / w.sum())
        return np.broadcast_to(values[idx], (count, stages))
    if rule != "non_decreasing":
        raise ValueError(f"unknown order {rule!r}")
    m = len(values)
    # tails[t][x] = Z_t(x): total weight of non-decreasing sequences of length t, all >= values[x].
    tails = [np.ones(m)]
    for _ in range(stages - 1):
        tails.append(np.cumsum((probs * tails[-1])[::-1])[::-1])
    u = rng.random((count, stages))
    out = np.empty((count, stages), dtype=np.int64)
    low = np.zeros(count, dtype=np.int64)
    for i in range(stages):
        cum = np.concatenate([[0.0], np.cumsum(probs * tails[stages - 1 - i])])
        start, total = cum[low], cum[-1]
        target = start + u[:, i] * (total - start)
        idx = np.searchsorted(cum, target, side="right") - 1
        out[:, i] = low = np.clip(idx, low, m - 1)
    return values[out]
