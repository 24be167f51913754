"""The paper's baselines by name: ResNe(X)t-50/101/152 and CIFAR ResNet-56/110 as AnyNets, and
EfficientNet-B0..B5."""

from __future__ import annotations

from dsd.nets.config import AnyNet
from dsd.nets.efficientnet import EfficientNet, efficientnet_zoo

_RESNET_DEPTHS = {"50": (3, 4, 6, 3), "101": (3, 4, 23, 3), "152": (3, 8, 36, 3)}
# name: (bottleneck ratio, group widths); ResNeXt is 32x4d
_RESNETS = {"ResNet": (4.0, (64, 128, 256, 512)), "ResNeXt": (2.0, (4, 8, 16, 32))}


def _resnet(depths: tuple[int, ...], b: float, group_widths: tuple[int, ...]) -> AnyNet:
    return AnyNet(
        depths=depths,
        widths=(256, 512, 1024, 2048),
        group_widths=group_widths,
        bottleneck_ratios=b,
        strides=(1, 2, 2, 2),
        stem="res_stem_in",
        stem_width=64,
    )


def _cifar_resnet(n: int) -> AnyNet:
    return AnyNet(
        depths=(n, n, n),
        widths=(16, 32, 64),
        strides=(1, 2, 2),
        stem="res_stem_cifar",
        stem_width=16,
        block="res_basic_block",
        num_classes=10,
        resolution=32,
    )


def baseline_models() -> dict[str, AnyNet | EfficientNet]:
    """The baselines by name, each at its own resolution and class count."""
    out: dict[str, AnyNet | EfficientNet] = {
        f"{name}-{size}": _resnet(depths, b, g)
        for name, (b, g) in _RESNETS.items()
        for size, depths in _RESNET_DEPTHS.items()
    }
    out["ResNet-56"] = _cifar_resnet(9)
    out["ResNet-110"] = _cifar_resnet(18)
    return out | efficientnet_zoo()
