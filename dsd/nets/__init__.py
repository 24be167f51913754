"""Layer 1, networks: what a network *is*.

- :class:`AnyNet`: the frozen config (stem, per-stage d/w/g/b/stride, head) with the reference's
  compatibility adjustment applied; :func:`adjust_compatibility` is that rule, vectorised.
- :func:`regnet` / :func:`regnet_widths`: quantized-linear widths from ``(d, w0, wa, wm)``;
  :func:`model_zoo` / :func:`zoo_model`: the paper's RegNetX/RegNetY models by name.
- :func:`complexity` (exact flops, params, acts; :func:`layers` lists them per layer) and its
  vectorised twin :func:`complexity_batch`.
- :class:`EfficientNet` (MBConv blocks) and :func:`baseline_models`: the paper's baselines
  (ResNet/ResNeXt-50/101/152 as AnyNets, CIFAR ResNet-56/110, EfficientNet-B0..B5), also by name
  through :func:`zoo_model` (:func:`model_names` lists every name).
- :func:`build_model`: the ``torch.nn.Module`` (torch is imported only when it is called).

To add a block (a stem likewise, in :data:`dsd.nets.costs.STEMS` and ``model.Stem``):

1. Its cost function in :mod:`dsd.nets.costs`: the layers it has, in forward order and by
   submodule name, through the counter ``c`` (ints or arrays alike: see that module); add it to
   :data:`~dsd.nets.costs.BLOCK_COSTS`. Its name is then valid in an :class:`AnyNet` and in space
   files, and both :func:`complexity` and :func:`complexity_batch` count it.
2. Its module in :mod:`dsd.nets.model`, with the same submodule names; add its constructor to
   ``BLOCK_MODULES``.
3. The tests: ``tests/test_nets.py`` draws random nets over every block and checks params and
   acts against the built module, flops against fvcore, and the vectorised counts against the
   per-layer walker; add a test of any paper figure the block has.

(Group widths and SE are adjusted and validated for ``res_bottleneck_block`` only, in
:class:`AnyNet`; a new block that uses them says so there.)
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
from dsd.nets.efficientnet import EfficientNet, efficientnet_zoo
from dsd.nets.regnet import (
    RegNetWidths,
    ZooEntry,
    model_names,
    model_zoo,
    regnet,
    regnet_widths,
    zoo_model,
)

if TYPE_CHECKING:
    from torch import nn


def build_model(net: AnyNet | EfficientNet) -> nn.Module:
    """The ``torch.nn.Module`` of ``net`` (see :mod:`dsd.nets.model`, :mod:`dsd.nets.effnet_model`)."""
    if isinstance(net, EfficientNet):
        from dsd.nets.effnet_model import EffNetModel

        return EffNetModel(net)
    from dsd.nets.model import build_model as _build

    return _build(net)


def baseline_models() -> dict[str, AnyNet | EfficientNet]:
    """The paper's baselines by name (see :mod:`dsd.nets.baselines`)."""
    from dsd.nets.baselines import baseline_models as _baselines

    return _baselines()


__all__ = [
    "BLOCKS",
    "NET_FIELDS",
    "STAGE_FIELDS",
    "STEMS",
    "AnyNet",
    "EfficientNet",
    "Layer",
    "RegNetWidths",
    "ZooEntry",
    "adjust_compatibility",
    "baseline_models",
    "build_model",
    "complexity",
    "complexity_batch",
    "config_hash",
    "efficientnet_zoo",
    "layers",
    "model_names",
    "model_zoo",
    "regnet",
    "regnet_widths",
    "zoo_model",
]
