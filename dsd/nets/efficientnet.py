"""EfficientNet (Tan & Le 2019; DDS §5's baseline) as a frozen config of MBConv stages.

MBConv: 1x1 expansion to ``int(w_in * e)`` (absent when equal to ``w_in``), depthwise ``k x k``
(strided), SE of hidden width ``int(w_in * se_ratio)``, linear 1x1 projection, identity skip
(with drop-connect) when the shape is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from dsd.errors import DsdError
from dsd.nets.config import LIMITS, WIDTH, Bound, StagedNet, hash_json
from dsd.nets.costs import head_cost, stem_cost

_RATE = Bound(float, 0.0, 1.0, open_high=True)


@dataclass(frozen=True)
class EfficientNet(StagedNet):
    """An EfficientNet: stem width, per-stage (depth, width, expansion, kernel, stride), head width
    (``dropout`` and ``drop_connect`` act only in training and cost nothing)."""

    STAGE_BOUNDS: ClassVar[dict[str, Bound]] = {
        "depths": Bound(int, 1, LIMITS["depth"]),
        "widths": WIDTH,
        "exp_ratios": Bound(float, 1.0, LIMITS["ratio"]),
        "kernels": Bound(int, 1, LIMITS["kernel"]),
        "strides": Bound(int, 1, LIMITS["stride"]),
    }
    NET_BOUNDS: ClassVar[dict[str, Bound]] = {
        "stem_width": WIDTH,
        "head_width": WIDTH,
        "se_ratio": Bound(float, 0.0, LIMITS["se_ratio"]),
        "dropout": _RATE,
        "drop_connect": _RATE,
        "num_classes": Bound(int, 1, LIMITS["classes"]),
        "resolution": Bound(int, 1, LIMITS["resolution"]),
    }

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    exp_ratios: tuple[float, ...] | float = 6.0
    kernels: tuple[int, ...] | int = 3
    strides: tuple[int, ...] | int = 1
    stem_width: int = 32
    head_width: int = 1280
    se_ratio: float = 0.25
    dropout: float = 0.2
    drop_connect: float = 0.2
    num_classes: int = 1000
    resolution: int = 224

    family = "efficientnet"

    def __post_init__(self) -> None:
        values = self._checked()
        if any(k % 2 == 0 for k in values["kernels"]):
            raise DsdError(
                f"EfficientNet.kernels: every kernel must be odd, got {list(values['kernels'])}"
            )
        self._set(values)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict, with ``family``."""
        return {"family": self.family, **super().to_dict()}

    @property
    def model_id(self) -> str:
        """A stable hash of the configuration (family included)."""
        return hash_json(self.to_dict())


def mbconv_widths(w_in: int, exp_ratio: float, se_ratio: float) -> tuple[int, int]:
    """``(w_exp, w_se)`` of an MBConv block, as the reference."""
    return int(w_in * exp_ratio), int(w_in * se_ratio)


def effnet_cost(c, net: EfficientNet) -> None:
    """Count every layer of ``net`` with the counter ``c`` (as :mod:`dsd.nets.costs` does)."""
    stem_cost(c, "simple_stem_in", net.stem_width)  # the module's Stem and Head are AnyNet's
    w_in = net.stem_width
    stages = zip(net.depths, net.widths, net.exp_ratios, net.kernels, net.strides)
    for i, (d, w, e, k, s) in enumerate(stages, start=1):
        for j in range(1, d + 1):
            p, stride = f"s{i}.b{j}", s if j == 1 else 1
            w_exp, w_se = mbconv_widths(w_in, e, net.se_ratio)
            if w_exp != w_in:
                c.conv(f"{p}.exp", w_in, w_exp, 1)
                c.bn(f"{p}.exp_bn", w_exp)
            c.h = c.conv(f"{p}.dwise", w_exp, w_exp, k, stride, group_width=1)
            c.bn(f"{p}.dwise_bn", w_exp)
            if w_se:
                c.conv(f"{p}.se.reduce", w_exp, w_se, 1, bias=True, h=1)
                c.conv(f"{p}.se.expand", w_se, w_exp, 1, bias=True, h=1)
            c.conv(f"{p}.lin_proj", w_exp, w, 1)
            c.bn(f"{p}.lin_proj_bn", w)
            w_in = w
    head_cost(c, w_in, net.head_width, net.num_classes)


# EfficientNet-B0..B5 as the reference trains them: (stem_w, depths, widths, head_w, res, dropout)
_STRIDES = (1, 2, 2, 2, 1, 2, 1)
_EXP_RATIOS = (1, 6, 6, 6, 6, 6, 6)
_KERNELS = (3, 3, 5, 3, 5, 5, 3)
_ZOO = {
    "B0": (32, (1, 2, 2, 3, 3, 4, 1), (16, 24, 40, 80, 112, 192, 320), 1280, 224, 0.2),
    "B1": (32, (2, 3, 3, 4, 4, 5, 2), (16, 24, 40, 80, 112, 192, 320), 1280, 240, 0.2),
    "B2": (32, (2, 3, 3, 4, 4, 5, 2), (16, 24, 48, 88, 120, 208, 352), 1408, 260, 0.3),
    "B3": (40, (2, 3, 3, 5, 5, 6, 2), (24, 32, 48, 96, 136, 232, 384), 1536, 300, 0.3),
    "B4": (48, (2, 4, 4, 6, 6, 8, 2), (24, 32, 56, 112, 160, 272, 448), 1792, 380, 0.4),
    "B5": (48, (3, 5, 5, 7, 7, 9, 3), (24, 40, 64, 128, 176, 304, 512), 2048, 456, 0.4),
}


def efficientnet_zoo() -> dict[str, EfficientNet]:
    """EfficientNet-B0..B5 by name, each at its own resolution."""
    return {
        f"EfficientNet-{size}": EfficientNet(
            depths=d,
            widths=w,
            exp_ratios=_EXP_RATIOS,
            kernels=_KERNELS,
            strides=_STRIDES,
            stem_width=stem_w,
            head_width=head_w,
            dropout=dropout,
            resolution=res,
        )
        for size, (stem_w, d, w, head_w, res, dropout) in _ZOO.items()
    }
