"""The paper's baselines by name: ResNet, ResNeXt (as AnyNet configs) and EfficientNet-B0..B5.

ResNe(X)t-50/101/152 are AnyNets with the ResNet stem (7x7 conv + max-pool, width 64), the
bottleneck block, strides ``[1, 2, 2, 2]`` and widths ``[256, 512, 1024, 2048]``: ResNet has
bottleneck ratio 4 and one group, ResNeXt (32x4d) ratio 2 and 32 groups. ResNet-56/110 are the
CIFAR-10 ResNets (3x3 stem of width 16, basic blocks, 32x32 input, 10 classes).
EfficientNet-B0..B5 are :class:`dsd.nets.efficientnet.EfficientNet` configs.
"""

from __future__ import annotations

from dsd.nets.config import AnyNet
from dsd.nets.efficientnet import EfficientNet, efficientnet_zoo

_RESNET_DEPTHS = {"50": (3, 4, 6, 3), "101": (3, 4, 23, 3), "152": (3, 8, 36, 3)}


def _resnet(depths: tuple[int, ...], b: float, group_widths: tuple[int, ...]) -> AnyNet:
    return AnyNet(
        depths=depths,
        widths=(256, 512, 1024, 2048),
        group_widths=group_widths,
        bottleneck_ratios=b,
        strides=(1, 2, 2, 2),
        stem="res_stem_in",
        stem_width=64,
        block="res_bottleneck_block",
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
    """The baselines by name: ResNet-50/101/152, ResNeXt-50/101/152 (32x4d), ResNet-56/110
    (CIFAR-10) and EfficientNet-B0..B5, each at its own resolution and class count."""
    out: dict[str, AnyNet | EfficientNet] = {}
    for size, depths in _RESNET_DEPTHS.items():
        out[f"ResNet-{size}"] = _resnet(depths, 4.0, (64, 128, 256, 512))
    for size, depths in _RESNET_DEPTHS.items():
        out[f"ResNeXt-{size}"] = _resnet(depths, 2.0, (4, 8, 16, 32))
    out["ResNet-56"] = _cifar_resnet(9)
    out["ResNet-110"] = _cifar_resnet(18)
    out.update(efficientnet_zoo())
    return out
