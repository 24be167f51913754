"""RegNet design spaces (DDS §3.3): stages generated from six drawn parameters.

A candidate is valid, as in the reference sampler, when no quantization stage is empty, its stage
count lies in ``constraints.num_stages`` (default ``[4, 4]``; each count sampled with its
probability) and no width exceeds ``MAX_VALUE`` (the bound of an AnyNet width).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from dsd.nets.regnet import quantized_linear
from dsd.spaces.constraints import Allowed, inside
from dsd.spaces.params import INTEGRAL, MAX_VALUE
from dsd.spaces.space import MAX_BATCH, Batch, Space, stage_batch

#: The most block widths a batch evaluates (candidates x blocks of the deepest candidate).
MAX_BLOCKS = 1 << 23


@dataclass(frozen=True)
class RegNetSpace(Space):
    """A RegNet space: its stages are generated (one ``stride`` for every stage)."""

    stride: int = 2

    kind: ClassVar[str] = "regnet"
    PARAMETERS: ClassVar[tuple[str, ...]] = tuple(
        "depth w0 wa wm bottleneck_ratio group_width".split()
    )
    #: What ranges may bound: ``d`` is the total depth, the others the parameter itself.
    QUANTITIES: ClassVar[tuple[str, ...]] = ("d", *PARAMETERS[1:])

    @property
    def allowed(self) -> Allowed:
        """Ranges on the six parameters and ``num_stages``; no orders (stages are generated)."""
        return Allowed(self.kind, (), self.QUANTITIES, num_stages=True)

    @property
    def num_stages(self) -> tuple[int, int]:
        """The stage counts a candidate may have."""
        return self.constraints.num_stages or (4, 4)

    @property
    def size(self) -> int:
        """The settings the sampler can draw (before the stage-count check): many give the same
        network, so this over-counts networks; the paper does not say how its 3.0e8 is counted."""
        bounds = self.constraints.bounds()
        counts = [
            int(np.sum(inside(np.unique(p.grid()), *bounds.get(q, (None, None)))))
            for q, p in zip(self.QUANTITIES, self.parameters.values(), strict=True)
        ]
        return math.prod(counts)

    @property
    def degrees_of_freedom(self) -> int:
        return sum(1 for p in self.parameters.values() if p.count() > 1)

    @property
    def max_batch(self) -> int:
        deepest = int(self.parameters["depth"].grid().max())
        return max(64, min(MAX_BATCH, MAX_BLOCKS // deepest))

    def draw(self, rng: np.random.Generator, count: int) -> list[Batch]:
        """The valid candidates of ``count`` draws: one batch for each stage count drawn."""
        v = {k: p.draw(rng, count) for k, p in self.parameters.items()}
        depth = v["depth"].astype(np.int64)
        blocks, exponents = quantized_linear(int(depth.max()), v["w0"], v["wa"], v["wm"])
        live = np.arange(blocks.shape[1])[None, :] < depth[:, None]
        # Widths are non-decreasing along blocks: a stage starts wherever the width changes.
        starts = live & np.concatenate(
            [np.ones((count, 1), bool), blocks[:, 1:] != blocks[:, :-1]], axis=1
        )
        stage_count = starts.sum(1)
        low, high = self.num_stages
        last = (np.arange(count), depth - 1)  # widths and exponents only grow: the last is the max
        valid = stage_count == exponents[last] + 1
        valid &= (stage_count >= low) & (stage_count <= high)
        valid &= blocks[last] <= MAX_VALUE
        return [
            self._stages(np.flatnonzero(valid & (stage_count == stages)), stages, v, blocks, starts)
            for stages in np.unique(stage_count[valid]).tolist()
        ]

    def _stages(self, rows, stages: int, v, blocks, starts) -> Batch:
        """The batch of candidates ``rows``, all of ``stages`` stages, in per-stage form."""
        scalars = {}  # each candidate's drawn parameters, as the batch holds them
        for k in self.PARAMETERS:
            scalars[k] = v[k][rows].astype(np.int64 if k in INTEGRAL else np.float64)
        first = starts[rows]
        begin = np.nonzero(first)[1].reshape(len(rows), stages)
        depths = np.diff(begin, axis=1, append=scalars["depth"][:, None])
        g = np.broadcast_to(scalars["group_width"][:, None], depths.shape)
        b = np.broadcast_to(scalars["bottleneck_ratio"][:, None], depths.shape)
        widths = blocks[rows][first].reshape(len(rows), stages)
        batch = stage_batch(depths, widths, g, b, (self.stride,) * stages)
        batch["draw"] = rows
        batch.update(scalars)  # after the per-stage columns, as before
        return batch

    def quantity(self, name: str, design: Mapping[str, np.ndarray]) -> np.ndarray:
        """``d``: the total depth (the drawn ``depth``); the others: the drawn parameter."""
        return np.asarray(design["depth" if name == "d" else name], dtype=float)

    def layout(self) -> str:
        low, high = self.num_stages
        count = str(low) if low == high else f"{low} to {high}"
        return (
            f"{count}, generated by quantized linear widths (no empty quantization stage), "
            f"stride {self.stride}"
        )
