"""The cost of every stem, block and head, written once as the layers it has, by module name.

Each function calls a counter ``c`` (``c.conv``, ``c.bn``, ``c.maxpool``, ``c.linear``, size
``c.h``; :mod:`dsd.nets.counters`) on ints or int64 arrays alike: use arithmetic, ``|``/``&`` and
:func:`iround`, never ``if`` on a width; a layer some configs lack is passed ``when=``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def out_size(h, stride):
    """Output size of an odd-kernel, 'same'-padded conv or pool (ints or arrays)."""
    if isinstance(stride, int) and stride == 1:
        return h  # the same object: counters reuse what they derived from it
    return (h - 1) // stride + 1


def iround(x):
    """Round half to even to an integer, as Python's ``round`` (a float, or an int64 array)."""
    if isinstance(x, np.ndarray):
        return np.round(x).astype(np.int64)
    return round(x)


@dataclass(frozen=True)
class Stem:
    """A stem: ``k x k`` conv of stride ``stride`` from RGB, BN, ReLU, then a 3x3 s2 max-pool if ``pool``."""

    k: int
    stride: int
    pool: bool = False


#: The stems by name (the reference's names).
STEMS: dict[str, Stem] = {
    "simple_stem_in": Stem(3, 2),
    "res_stem_in": Stem(7, 2, pool=True),
    "res_stem_cifar": Stem(3, 1),
}


def stem_cost(c, kind: str, w: int) -> None:
    """Count the stem ``kind`` of width ``w`` (``stem.conv``, ``stem.bn``, ``stem.pool``)."""
    stem = STEMS[kind]
    c.h = c.conv("stem.conv", 3, w, stem.k, stem.stride)
    c.bn("stem.bn", w)
    if stem.pool:
        c.maxpool("stem.pool", w, 3, 2)


def _proj_cost(c, p: str, w_in, w, stride) -> None:
    """The residual shortcut: a 1x1 conv + BN where the shape changes (the input size is ``c.h``)."""
    if w_in is w and isinstance(stride, int) and stride == 1:
        return  # a later block of a stage (a shortcut the batch counter takes without arithmetic)
    when = (w_in != w) | (stride != 1)
    c.conv(f"{p}.proj", w_in, w, 1, stride, when=when)
    c.bn(f"{p}.proj_bn", w, when=when)


def bottleneck_cost(c, p: str, w_in, w, stride, b, g, se_ratio: float) -> None:
    """The X block (Y with ``se_ratio > 0``): shortcut, 1x1 ``a``, 3x3 grouped ``b`` (strided),
    squeeze-and-excitation of width ``round(se_ratio * w_in)``, 1x1 ``c``."""
    h_in = c.h
    _proj_cost(c, p, w_in, w, stride)
    w_b = iround(w * (1.0 / b))  # the reference's bottleneck multiplier 1 / b
    c.conv(f"{p}.f.a", w_in, w_b, 1)
    c.bn(f"{p}.f.a_bn", w_b)
    c.h = c.conv(f"{p}.f.b", w_b, w_b, 3, stride, group_width=g, h=h_in)
    c.bn(f"{p}.f.b_bn", w_b)
    if se_ratio > 0:
        w_se = iround(w_in * se_ratio)
        c.conv(f"{p}.f.se.reduce", w_b, w_se, 1, bias=True, h=1, when=w_se > 0)
        c.conv(f"{p}.f.se.expand", w_se, w_b, 1, bias=True, h=1, when=w_se > 0)
    c.conv(f"{p}.f.c", w_b, w, 1)
    c.bn(f"{p}.f.c_bn", w)


def _two_3x3(c, p: str, w_in, w, stride) -> None:
    """3x3 conv (strided) + BN, 3x3 conv + BN, named ``{p}a``, ``{p}a_bn``, ``{p}b``, ``{p}b_bn``."""
    c.h = c.conv(f"{p}a", w_in, w, 3, stride)
    c.bn(f"{p}a_bn", w)
    c.conv(f"{p}b", w, w, 3)
    c.bn(f"{p}b_bn", w)


def basic_cost(c, p: str, w_in, w, stride, b, g, se_ratio: float) -> None:
    """The residual basic block: shortcut, then two 3x3 convs in ``f`` (``b`` and ``g`` unused)."""
    _proj_cost(c, p, w_in, w, stride)
    _two_3x3(c, f"{p}.f.", w_in, w, stride)


def vanilla_cost(c, p: str, w_in, w, stride, b, g, se_ratio: float) -> None:
    """The vanilla block: two 3x3 convs, no shortcut (``b`` and ``g`` unused)."""
    _two_3x3(c, f"{p}.", w_in, w, stride)


#: The blocks by name: ``cost(c, prefix, w_in, w, stride, b, g, se_ratio)``; the module of the
#: same name is in :data:`dsd.nets.model.BLOCK_MODULES`.
BLOCK_COSTS = {
    "res_bottleneck_block": bottleneck_cost,
    "res_basic_block": basic_cost,
    "vanilla_block": vanilla_cost,
}


def head_cost(c, w_in, head_width: int, num_classes: int) -> None:
    """The head: optional 1x1 conv + BN to ``head_width``, global pool (free), fully connected."""
    if head_width > 0:
        c.conv("head.conv", w_in, head_width, 1)
        c.bn("head.bn", head_width)
        w_in = head_width
    c.linear("head.fc", w_in, num_classes)
