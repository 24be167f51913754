"""The torch.nn.Module of an AnyNet: one small class per concept of the paper, submodules named
as :mod:`dsd.nets.costs` counts them (built widths and group widths)."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from dsd.nets.config import AnyNet
from dsd.nets.costs import STEMS


def _conv(w_in: int, w_out: int, k: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(w_in, w_out, k, stride=stride, padding=k // 2, groups=groups, bias=False)


Act = Callable[[torch.Tensor], torch.Tensor]


class Stem(nn.Module):
    """Conv (3x3 s2, 7x7 s2 + 3x3 max-pool s2, or 3x3 s1 for CIFAR), BN, ``act``."""

    def __init__(self, kind: str, w_out: int, act: Act = torch.relu_) -> None:
        super().__init__()
        stem = STEMS[kind]
        self.conv = _conv(3, w_out, stem.k, stem.stride)
        self.bn = nn.BatchNorm2d(w_out)
        self.act = act
        if stem.pool:
            self.pool = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn(self.conv(x)))
        return self.pool(x) if hasattr(self, "pool") else x


class SE(nn.Module):
    """Squeeze-and-excitation: pool, 1x1 reduce + ``act``, 1x1 expand + sigmoid, rescale."""

    def __init__(self, w: int, w_se: int, act: Act = torch.relu) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(w, w_se, 1, bias=True)
        self.expand = nn.Conv2d(w_se, w, 1, bias=True)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(s))))


class BottleneckTransform(nn.Module):
    """The X block's transform: 1x1 ``a``, 3x3 grouped ``b`` (strided), optional ``se``, 1x1 ``c``."""

    def __init__(
        self, w_in: int, w_out: int, stride: int, b: float, g: int, se_ratio: float
    ) -> None:
        super().__init__()
        w_b = round(w_out * (1.0 / b))
        w_se = round(w_in * se_ratio)
        self.a = _conv(w_in, w_b, 1)
        self.a_bn = nn.BatchNorm2d(w_b)
        self.b = _conv(w_b, w_b, 3, stride, groups=w_b // g)
        self.b_bn = nn.BatchNorm2d(w_b)
        self.se = SE(w_b, w_se) if w_se else None
        self.c = _conv(w_b, w_out, 1)
        self.c_bn = nn.BatchNorm2d(w_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.a_bn(self.a(x)))
        x = torch.relu(self.b_bn(self.b(x)))
        if self.se is not None:
            x = self.se(x)
        return self.c_bn(self.c(x))


class BasicTransform(nn.Module):
    """Two 3x3 convs (the first strided), BN after each, ReLU between."""

    def __init__(self, w_in: int, w_out: int, stride: int) -> None:
        super().__init__()
        self.a = _conv(w_in, w_out, 3, stride)
        self.a_bn = nn.BatchNorm2d(w_out)
        self.b = _conv(w_out, w_out, 3)
        self.b_bn = nn.BatchNorm2d(w_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b_bn(self.b(torch.relu(self.a_bn(self.a(x)))))


class ResBlock(nn.Module):
    """Residual block: ``relu(f(x) + proj(x))``; ``proj`` (1x1 conv + BN) when shape changes."""

    def __init__(self, f: nn.Module, w_in: int, w_out: int, stride: int) -> None:
        super().__init__()
        if w_in != w_out or stride != 1:
            self.proj = _conv(w_in, w_out, 1, stride)
            self.proj_bn = nn.BatchNorm2d(w_out)
        else:
            self.proj = None
        self.f = f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.proj_bn(self.proj(x)) if self.proj is not None else x
        return torch.relu(self.f(x) + shortcut)


class VanillaBlock(BasicTransform):
    """Two 3x3 conv + BN + ReLU, no shortcut: the basic transform followed by a ReLU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(super().forward(x))


class Head(nn.Module):
    """Optional 1x1 conv + BN + ``act``, global average pool, dropout, fully connected layer."""

    def __init__(
        self, w_in: int, head_width: int, num_classes: int, act: Act = torch.relu, dropout=0.0
    ) -> None:
        super().__init__()
        if head_width > 0:
            self.conv = _conv(w_in, head_width, 1)
            self.bn = nn.BatchNorm2d(head_width)
            w_in = head_width
        else:
            self.conv = None
        self.act = act
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.fc = nn.Linear(w_in, num_classes, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            x = self.act(self.bn(self.conv(x)))
        x = x.mean((2, 3))
        return self.fc(x if self.dropout is None else self.dropout(x))


#: The module of each block by name, ``(w_in, w_out, stride, b, g, se_ratio) -> nn.Module``,
#: named as its cost in :data:`dsd.nets.costs.BLOCK_COSTS` counts.
BLOCK_MODULES = {
    "res_bottleneck_block": lambda w_in, w, stride, b, g, se: ResBlock(
        BottleneckTransform(w_in, w, stride, b, g, se), w_in, w, stride
    ),
    "res_basic_block": lambda w_in, w, stride, b, g, se: ResBlock(
        BasicTransform(w_in, w, stride), w_in, w, stride
    ),
    "vanilla_block": lambda w_in, w, stride, b, g, se: VanillaBlock(w_in, w, stride),
}


class _Chain(nn.Module):
    """A module whose forward runs its children in registration order (as ``nn.Sequential``'s,
    without its indexing and slicing, which would rebuild the subclass without its ``__init__``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.children():
            x = m(x)
        return x


class AnyNetModel(_Chain):
    """Stem, stages ``s1..sN`` (each ``b1..bd``), head; ``self.config`` is the AnyNet built."""

    def __init__(self, net: AnyNet) -> None:
        super().__init__()
        self.config = net
        self.stem = Stem(net.stem, net.stem_width)
        block = BLOCK_MODULES[net.block]
        w_in = net.stem_width
        stages = zip(
            net.depths, net.built_widths, net.strides, net.bottleneck_ratios, net.built_group_widths
        )
        for i, (d, w, s, b, g) in enumerate(stages, start=1):
            blocks = OrderedDict()
            for j in range(1, d + 1):
                args = (w_in if j == 1 else w, w, s if j == 1 else 1, b, g, net.se_ratio)
                blocks[f"b{j}"] = block(*args)
            self.add_module(f"s{i}", nn.Sequential(blocks))
            w_in = w
        self.head = Head(w_in, net.head_width, net.num_classes)
        self.apply(init_weights)


def init_weights(m: nn.Module) -> None:
    """The reference's: He normal (fan-out) convs, BN 1 and 0, FC weights N(0, 0.01), bias 0."""
    if isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
        nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, mean=0.0, std=0.01)
        nn.init.zeros_(m.bias)


def zero_init_residual(model: nn.Module) -> int:
    """Zero the last BN gamma of every residual branch, so each block starts as its shortcut
    (Goyal et al. 2017; pycls ``BN.ZERO_INIT_FINAL_GAMMA``); return how many."""
    blocks = [m for m in model.modules() if isinstance(m, ResBlock)]
    for m in blocks:
        nn.init.zeros_((m.f.c_bn if isinstance(m.f, BottleneckTransform) else m.f.b_bn).weight)
    return len(blocks)
