"""Layer 1, networks: configs (:class:`AnyNet`, :class:`EfficientNet`), the RegNet generator and
zoo, exact costs (:func:`complexity`, :func:`complexity_batch`) and :func:`build_model`.

A new block: its cost in :data:`dsd.nets.costs.BLOCK_COSTS`, its module (same submodule names) in
``dsd.nets.model.BLOCK_MODULES``, and tests/test_nets.py checks both counters against the module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dsd._lazy import lazy_exports
from dsd.nets.config import AnyNet
from dsd.nets.efficientnet import EfficientNet

# bound here, not lazily: importing the submodule of the same name would shadow a lazy name
from dsd.nets.regnet import regnet as regnet

if TYPE_CHECKING:
    from torch import nn

_NAMES = {
    "dsd.nets.baselines": "baseline_models",
    "dsd.nets.config": "BLOCKS LIMITS NET_FIELDS STAGE_FIELDS STEMS AnyNet adjust_compatibility "
    "config_hash",
    "dsd.nets.counters": "Layer complexity complexity_batch layers",
    "dsd.nets.efficientnet": "EfficientNet efficientnet_zoo",
    "dsd.nets.regnet": "ZooEntry model_names model_zoo net_from_row quantized_linear zoo_model",
}
_EXPORTS = {name: module for module, names in _NAMES.items() for name in names.split()}


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


__all__ = sorted([*_EXPORTS, "build_model", "regnet"])
__getattr__, __dir__ = lazy_exports("dsd.nets", globals(), _EXPORTS)
