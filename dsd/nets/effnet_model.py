"""The torch.nn.Module of an EfficientNet; submodule names match
:func:`dsd.nets.efficientnet.effnet_cost`, initialisation is AnyNet's."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from dsd.nets.efficientnet import EfficientNet, mbconv_widths
from dsd.nets.model import SE, Head, Stem, _Chain, _conv, init_weights


def drop_connect(x: torch.Tensor, rate: float) -> torch.Tensor:
    """Zero whole samples of a residual branch with probability ``rate``, rescale the rest."""
    keep = 1.0 - rate
    mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * (mask / keep)


class MBConv(nn.Module):
    """Mobile inverted bottleneck: expand 1x1, depthwise kxk (strided), SE, linear 1x1, skip."""

    def __init__(
        self,
        w_in: int,
        w_out: int,
        exp_ratio: float,
        k: int,
        stride: int,
        se_ratio: float,
        drop_connect: float,
    ) -> None:
        super().__init__()
        w_exp, w_se = mbconv_widths(w_in, exp_ratio, se_ratio)
        if w_exp != w_in:
            self.exp = _conv(w_in, w_exp, 1)
            self.exp_bn = nn.BatchNorm2d(w_exp)
        else:
            self.exp = None
        self.dwise = _conv(w_exp, w_exp, k, stride, groups=w_exp)
        self.dwise_bn = nn.BatchNorm2d(w_exp)
        self.se = SE(w_exp, w_se, act=nn.functional.silu) if w_se else None
        self.lin_proj = _conv(w_exp, w_out, 1)
        self.lin_proj_bn = nn.BatchNorm2d(w_out)
        self.has_skip = stride == 1 and w_in == w_out
        self.drop_connect = drop_connect

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = x
        if self.exp is not None:
            f = nn.functional.silu(self.exp_bn(self.exp(f)))
        f = nn.functional.silu(self.dwise_bn(self.dwise(f)))
        if self.se is not None:
            f = self.se(f)
        f = self.lin_proj_bn(self.lin_proj(f))
        if self.has_skip:
            if self.training and self.drop_connect > 0:
                f = drop_connect(f, self.drop_connect)
            f = f + x
        return f


class EffNetModel(_Chain):
    """Stem, stages ``s1..sN`` (each ``b1..bd``), head; ``self.config`` is the EfficientNet built."""

    def __init__(self, net: EfficientNet) -> None:
        super().__init__()
        self.config = net
        self.stem = Stem("simple_stem_in", net.stem_width, act=nn.functional.silu)
        w_in = net.stem_width
        stages = zip(net.depths, net.widths, net.exp_ratios, net.kernels, net.strides)
        for i, (d, w, e, k, s) in enumerate(stages, start=1):
            blocks = OrderedDict()
            for j in range(1, d + 1):
                args = (w_in if j == 1 else w, w, e, k, s if j == 1 else 1)
                blocks[f"b{j}"] = MBConv(*args, net.se_ratio, net.drop_connect)
            self.add_module(f"s{i}", nn.Sequential(blocks))
            w_in = w
        silu = nn.functional.silu
        self.head = Head(w_in, net.head_width, net.num_classes, act=silu, dropout=net.dropout)
        self.apply(init_weights)
