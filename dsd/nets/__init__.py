"""Layer 1, networks: configs (:class:`AnyNet`, :class:`EfficientNet`), the RegNet generator and
zoo, exact costs (:func:`complexity`, :func:`complexity_batch`) and :func:`build_model`.

A new block: its cost in :data:`dsd.nets.costs.BLOCK_COSTS`, its module (same submodule names) in
``dsd.nets.model.BLOCK_MODULES``, and tests/test_nets.py checks both counters against the module.
Group widths and SE are adjusted and checked for ``res_bottleneck_block`` only, in
``AnyNet.__post_init__``: a new block that uses them says so there.
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
    """The ``torch.nn.Module`` of ``net``."""
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
