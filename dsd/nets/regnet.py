"""RegNet (DDS §3.3): AnyNets whose block widths follow a quantized linear function, and the zoo.

``u_j = w0 + wa * j``, ``s_j = round(log(u_j / w0) / log(wm))``, block width
``round(w0 * wm ** s_j / q) * q`` with ``q = 8``; blocks of equal width form a stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsd.errors import DsdError
from dsd.nets.baselines import baseline_models
from dsd.nets.config import LIMITS, AnyNet
from dsd.nets.efficientnet import EfficientNet


def quantized_linear(d: int, w0, wa, wm, q: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The RegNet generator, vectorised: ``(block_widths, s)`` of ``d`` blocks, shape
    ``broadcast(w0, wa, wm) + (d,)``, ``block_widths`` float64 and integral (the module docstring's
    rule). Callers with per-model depths evaluate ``max(d)`` blocks and mask the rest.

    >>> quantized_linear(4, 24, 24.48, 2.54)[0].tolist()   # RegNetX-400MF's first four blocks
    [24.0, 64.0, 64.0, 152.0]
    """
    w0, wa, wm = (np.asarray(a, dtype=np.float64)[..., None] for a in (w0, wa, wm))
    u = np.arange(int(d), dtype=np.float64) * wa + w0
    s = np.round(np.log(u / w0) / np.log(wm))
    return np.round(w0 * np.power(wm, s) / q) * q, s


def _stages(depth: int, w0: float, wa: float, wm: float) -> tuple[tuple, tuple]:
    """``(depths, widths)`` per stage of the RegNet ``(d, w0, wa, wm)``; DsdError naming a bad
    parameter."""
    whole = isinstance(depth, (int, float, np.number)) and float(depth).is_integer()
    if isinstance(depth, bool) or not whole or not 1 <= depth <= LIMITS["depth"]:
        raise DsdError(
            f"RegNet depth must be an integer from 1 to {LIMITS['depth']}, got {depth!r}"
        )
    if not 0 < w0 <= LIMITS["width"] or w0 % 8:
        raise DsdError(f"RegNet w0 must be a positive multiple of 8, got {w0!r}")
    if not 0 <= wa <= LIMITS["width"]:
        raise DsdError(f"RegNet wa must be from 0 to {LIMITS['width']}, got {wa!r}")
    if not 1 < wm <= LIMITS["ratio"]:
        raise DsdError(f"RegNet wm must be > 1 and at most {LIMITS['ratio']}, got {wm!r}")
    block = quantized_linear(int(depth), w0, wa, wm)[0].astype(np.int64)
    widths, depths = np.unique(block, return_counts=True)
    return tuple(depths.tolist()), tuple(widths.tolist())


def regnet(
    depth: int,
    w0: float,
    wa: float,
    wm: float,
    group_width: int,
    bottleneck_ratio: float = 1.0,
    se_ratio: float = 0.0,
    **network_fields: Any,
) -> AnyNet:
    """The AnyNet of the RegNet ``(d, w0, wa, wm)`` with shared group width and bottleneck ratio
    (``network_fields``: AnyNet's network-level fields)."""
    for k in ("depths", "widths", "group_widths", "bottleneck_ratios"):
        if k in network_fields:
            raise DsdError(f"regnet() generates {k}; it cannot be given")
    depths, widths = _stages(depth, w0, wa, wm)
    return AnyNet(
        depths=depths,
        widths=widths,
        group_widths=group_width,
        bottleneck_ratios=bottleneck_ratio,
        se_ratio=se_ratio,
        **network_fields,
    )


# The paper's RegNetX / RegNetY models (DDS Table 2 and appendix; b=1): (d, w0, wa, wm, g)
_ZOO_X = {
    "200MF": (13, 24, 36.44, 2.49, 8),
    "400MF": (22, 24, 24.48, 2.54, 16),
    "600MF": (16, 48, 36.97, 2.24, 24),
    "800MF": (16, 56, 35.73, 2.28, 16),
    "1.6GF": (18, 80, 34.01, 2.25, 24),
    "3.2GF": (25, 88, 26.31, 2.25, 48),
    "4.0GF": (23, 96, 38.65, 2.43, 40),
    "6.4GF": (17, 184, 60.83, 2.07, 56),
    "8.0GF": (23, 80, 49.56, 2.88, 120),
    "12GF": (19, 168, 73.36, 2.37, 112),
    "16GF": (22, 216, 55.59, 2.1, 128),
    "32GF": (23, 320, 69.86, 2.0, 168),
}
_ZOO_Y = {
    "200MF": (13, 24, 36.44, 2.49, 8),
    "400MF": (16, 48, 27.89, 2.09, 8),
    "600MF": (15, 48, 32.54, 2.32, 16),
    "800MF": (14, 56, 38.84, 2.4, 16),
    "1.6GF": (27, 48, 20.71, 2.65, 24),
    "3.2GF": (21, 80, 42.63, 2.66, 24),
    "4.0GF": (22, 96, 31.41, 2.24, 64),
    "6.4GF": (25, 112, 33.22, 2.27, 72),
    "8.0GF": (17, 192, 76.82, 2.19, 56),
    "12GF": (19, 168, 73.36, 2.37, 112),
    "16GF": (18, 200, 106.23, 2.48, 112),
    "32GF": (20, 232, 115.89, 2.53, 232),
}


@dataclass(frozen=True)
class ZooEntry:
    """One model of the paper's zoo: its RegNet parameters."""

    name: str
    depth: int
    w0: int
    wa: float
    wm: float
    group_width: int
    se_ratio: float

    def net(self, **network_fields: Any) -> AnyNet:
        """The AnyNet of this model (network-level fields may be overridden)."""
        d, w0, wa, wm, g = self.depth, self.w0, self.wa, self.wm, self.group_width
        return regnet(d, w0, wa, wm, g, se_ratio=self.se_ratio, **network_fields)


def model_zoo() -> dict[str, ZooEntry]:
    """The paper's 24 RegNetX / RegNetY models by name, e.g. ``'RegNetX-400MF'``."""
    zoo = {}
    for prefix, table, se in (("RegNetX", _ZOO_X, 0.0), ("RegNetY", _ZOO_Y, 0.25)):
        for size, (d, w0, wa, wm, g) in table.items():
            name = f"{prefix}-{size}"
            zoo[name] = ZooEntry(name, d, w0, wa, wm, g, se)
    return zoo


def model_names() -> list[str]:
    """Every model :func:`zoo_model` knows: the 24 RegNets, then the baselines."""
    return [*model_zoo(), *baseline_models()]


def zoo_model(name: str, **network_fields: Any):
    """The config of a model by name (case-insensitive), e.g. ``zoo_model('RegNetY-1.6GF')``;
    ``network_fields`` (``resolution``, ...) override the model's own."""
    zoo = model_zoo()
    entry = {k.lower(): v for k, v in zoo.items()}.get(name.lower())
    if entry is not None:
        return entry.net(**network_fields)
    baselines = baseline_models()  # builds and validates every baseline: only on a zoo miss
    entry = {k.lower(): v for k, v in baselines.items()}.get(name.lower())
    if entry is None:
        raise DsdError(f"unknown model {name!r} (known: {', '.join([*zoo, *baselines])})")
    return entry.replace(**network_fields) if network_fields else entry


def net_from_row(row: Mapping[str, Any]) -> AnyNet | EfficientNet:
    """The config of a samples/results row: an EfficientNet when ``family`` says so, else an AnyNet."""
    if row.get("family") == EfficientNet.family:
        return EfficientNet.from_dict(row)
    return AnyNet.from_dict(row)
