"""Layer 1, networks: what a network *is*.

- :class:`AnyNet`: the frozen config (stem, per-stage d/w/g/b/stride, head): the design as given
  and the network built from it (``built_widths``, ``built_group_widths``) by the reference's
  compatibility rule, :func:`adjust_compatibility` (vectorised). :data:`LIMITS`: every field's
  upper bound.
- :func:`quantized_linear`: the RegNet generator, per-block widths from ``(d, w0, wa, wm)``
  (vectorised); :func:`regnet` the AnyNet it designs; :func:`model_zoo` / :func:`zoo_model`: the
  paper's RegNetX/RegNetY models by name.
- :func:`complexity` (exact flops, params, acts; :func:`layers` lists them per layer) and its
  vectorised twin :func:`complexity_batch`.
- :class:`EfficientNet` (MBConv blocks) and :func:`baseline_models`: the paper's baselines
  (ResNet/ResNeXt-50/101/152 as AnyNets, CIFAR ResNet-56/110, EfficientNet-B0..B5), also by name
  through :func:`zoo_model` (:func:`model_names` lists every name); :func:`net_from_row` rebuilds
  either family from a table row.
- :func:`build_model`: the ``torch.nn.Module`` (torch is imported only when it is called).

To add a block (a stem likewise, in :data:`dsd.nets.costs.STEMS` and ``model.Stem``):

1. Its cost function in :mod:`dsd.nets.costs`: the layers it has, in forward order and by
   submodule name, through the counter ``c`` (ints or arrays alike: see that module); add it to
   :data:`~dsd.nets.costs.BLOCK_COSTS`. Its name is then valid in an :class:`AnyNet` and in space
   files, and both counters of :mod:`dsd.nets.counters` (:func:`complexity`,
   :func:`complexity_batch`) count it.
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

from dsd.nets.baselines import baseline_models
from dsd.nets.config import (
    BLOCKS,
    LIMITS,
    NET_FIELDS,
    STAGE_FIELDS,
    STEMS,
    AnyNet,
    adjust_compatibility,
    config_hash,
)
from dsd.nets.counters import Layer, complexity, complexity_batch, layers
from dsd.nets.efficientnet import EfficientNet, efficientnet_zoo
from dsd.nets.regnet import (
    ZooEntry,
    model_names,
    model_zoo,
    net_from_row,
    quantized_linear,
    regnet,
    zoo_model,
)

if TYPE_CHECKING:
    from torch import nn


def build_model(net: AnyNet | EfficientNet) -> nn.Module:
    """The ``torch.nn.Module`` of ``net`` (see :mod:`dsd.nets.model`, :mod:`dsd.nets.effnet_model`)."""
    # lazy: torch costs ~1 s at start-up; dsd show, dsd spaces and dsd sample never build a module
    from dsd.nets.effnet_model import EffNetModel
    from dsd.nets.model import AnyNetModel  # lazy: as above

    if isinstance(net, EfficientNet):
        return EffNetModel(net)
    if not isinstance(net, AnyNet):
        raise TypeError(
            f"build_model expects an AnyNet or an EfficientNet, got {type(net).__name__}"
        )
    return AnyNetModel(net)


__all__ = [
    "BLOCKS",
    "LIMITS",
    "NET_FIELDS",
    "STAGE_FIELDS",
    "STEMS",
    "AnyNet",
    "EfficientNet",
    "Layer",
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
    "net_from_row",
    "quantized_linear",
    "regnet",
    "zoo_model",
]
