"""Layer 1, networks: what a network *is*.

- :class:`AnyNet`: the frozen config (stem, per-stage d/w/g/b/stride, head) with the reference's
  compatibility adjustment applied; :func:`adjust_compatibility` is that rule, vectorised.
- :func:`regnet` / :func:`regnet_widths`: quantized-linear widths from ``(d, w0, wa, wm)``;
  :func:`model_zoo` / :func:`zoo_model`: the paper's RegNetX/RegNetY models by name.
- :func:`complexity` (exact flops, params, acts; :func:`layers` lists them per layer) and its
  vectorised twin :func:`complexity_batch`.
- :func:`build_model`: the ``torch.nn.Module`` (torch is imported only when it is called).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dsd.nets.complexity import Layer, complexity, complexity_batch, layers
from dsd.nets.config import (
    BLOCKS,
    NET_FIELDS,
    STAGE_FIELDS,
    STEMS,
    AnyNet,
    adjust_compatibility,
    config_hash,
)
from dsd.nets.regnet import RegNetWidths, ZooEntry, model_zoo, regnet, regnet_widths, zoo_model

if TYPE_CHECKING:
    from torch import nn


def build_model(net: AnyNet) -> nn.Module:
    """The ``torch.nn.Module`` of ``net`` (see :mod:`dsd.nets.model`)."""
    from dsd.nets.model import build_model as _build

    return _build(net)


__all__ = [
    "BLOCKS",
    "NET_FIELDS",
    "STAGE_FIELDS",
    "STEMS",
    "AnyNet",
    "Layer",
    "RegNetWidths",
    "ZooEntry",
    "adjust_compatibility",
    "build_model",
    "complexity",
    "complexity_batch",
    "config_hash",
    "layers",
    "model_zoo",
    "regnet",
    "regnet_widths",
    "zoo_model",
]
