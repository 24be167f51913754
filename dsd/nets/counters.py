"""Exact flops, params and acts by the reference's conventions, by two counters of the costs in
:mod:`dsd.nets.costs`: :func:`layers` walks one net layer by layer, :func:`complexity_batch` sums
many at once (a stage costs ``first + (d - 1) * rest``).

flops: multiply-adds of convs and fully connected layers, bias adds included (BN, ReLU, pooling
and the SE multiply count 0); params: every learnable parameter; acts: the elements of every conv,
linear and max-pool output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsd.nets.config import AnyNet
from dsd.nets.costs import BLOCK_COSTS, head_cost, out_size, stem_cost
from dsd.nets.efficientnet import EfficientNet, effnet_cost


@dataclass(frozen=True)
class Layer:
    """One counted layer: its module name, what it is, its output size and its cost."""

    name: str
    op: str  # conv | bn | maxpool | gap | linear
    w_in: int
    w_out: int
    k: int
    stride: int
    groups: int
    h_out: int
    flops: int
    params: int
    acts: int


def conv_cost(w_in, w_out, k: int, group_width, bias: bool, hw):
    """``(flops, params, acts)`` of a ``k x k`` conv with ``hw`` output pixels (ints or arrays);
    each output channel sees ``group_width`` input channels (``None``: all)."""
    weights = (w_in if group_width is None else group_width) * w_out
    if k != 1:
        weights = weights * (k * k)
    if bias:
        return weights * hw + w_out * hw, weights + w_out, w_out * hw
    return weights * hw, weights, w_out * hw


class _Counter:
    """The per-layer walker: accumulates :class:`Layer` records of one config (Python ints)."""

    def __init__(self, h: int) -> None:
        self.h = h
        self.layers: list[Layer] = []

    def conv(self, name, w_in, w_out, k, stride=1, group_width=None, bias=False, h=None, when=True):
        """Count a conv (input size ``h``, default ``self.h``) if ``when``; return its output size."""
        h_out = out_size(self.h if h is None else h, stride)
        if when:
            flops, params, acts = conv_cost(w_in, w_out, k, group_width, bias, h_out * h_out)
            groups = 1 if group_width is None else w_in // group_width
            self.layers.append(
                Layer(name, "conv", w_in, w_out, k, stride, groups, h_out, flops, params, acts)
            )
        return h_out

    def bn(self, name, w, when=True):
        """Count a batch norm of width ``w`` if ``when``."""
        if when:
            self.layers.append(Layer(name, "bn", w, w, 1, 1, 1, self.h, 0, 2 * w, 0))

    def maxpool(self, name, w, k, stride):
        """Count a max-pool and move ``self.h`` to its output size."""
        self.h = out_size(self.h, stride)
        self.layers.append(
            Layer(name, "maxpool", w, w, k, stride, 1, self.h, 0, 0, w * self.h * self.h)
        )

    def linear(self, name, w_in, w_out, bias=True):
        """Count a fully connected layer."""
        flops, params, acts = conv_cost(w_in, w_out, 1, None, bias, 1)
        self.layers.append(Layer(name, "linear", w_in, w_out, 1, 1, 1, 1, flops, params, acts))


class _Totals:
    """The vectorised counter: sums of N configs at once (int64 arrays), added in place (fresh
    arrays per layer would cost more than the arithmetic); BN widths are counted in :meth:`totals`."""

    def __init__(self, h: np.ndarray, sizes: dict | None = None) -> None:
        self.h = h
        n = len(h)
        self.flops, self.params, self.acts, self.bn_widths = (
            np.zeros(n, dtype=np.int64) for _ in range(4)
        )
        # sizes by the identities of input size and stride (kept in the value: the ids stay valid)
        self._sizes: dict[tuple[int, int], tuple] = {} if sizes is None else sizes

    def conv(self, name, w_in, w_out, k, stride=1, group_width=None, bias=False, h=None, when=True):
        """Add a conv (input size ``h``, default ``self.h``); return its output size."""
        h = self.h if h is None else h
        sizes = self._sizes.get((id(h), id(stride)))
        if sizes is None:
            h_out = out_size(h, stride)
            same = [x for x in self._sizes.values() if x[2] is h_out]
            hw = same[0][3] if same else h_out * h_out
            sizes = self._sizes[id(h), id(stride)] = (h, stride, h_out, hw)
        h_out, hw = sizes[2], sizes[3]
        if when is not True:
            if not np.any(when):
                return h_out
            w_out = w_out * when  # every cost of a conv is proportional to its output width
        flops, params, acts = conv_cost(w_in, w_out, k, group_width, bias, hw)
        self.flops += flops
        self.params += params
        self.acts += acts
        return h_out

    def bn(self, name, w, when=True):
        """Add a batch norm of width ``w``."""
        self.bn_widths += w if when is True else w * when

    def maxpool(self, name, w, k, stride):
        """Add a max-pool and move ``self.h`` to its output size."""
        self.h = out_size(self.h, stride)
        self.acts += w * self.h * self.h

    def linear(self, name, w_in, w_out, bias=True):
        """Add a fully connected layer: a 1x1 conv on one pixel."""
        self.conv(name, w_in, w_out, 1, bias=bias, h=1)

    def add_copies(self, other: _Totals, times: np.ndarray) -> None:
        """Add ``times`` copies of what ``other`` counted (consuming it) and move to its size."""
        for total, x in (
            (self.flops, other.flops),
            (self.params, other.params),
            (self.acts, other.acts),
            (self.bn_widths, other.bn_widths),
        ):
            x *= times
            total += x
        self.h = other.h

    def totals(self) -> dict[str, np.ndarray]:
        """The sums: ``{'flops', 'params', 'acts'}``."""
        self.bn_widths *= 2  # gamma and beta
        self.params += self.bn_widths
        return {"flops": self.flops, "params": self.params, "acts": self.acts}


def layers(net: AnyNet | EfficientNet) -> list[Layer]:
    """Every counted layer of ``net`` in forward order, named like the built module's."""
    c = _Counter(net.resolution)
    if isinstance(net, EfficientNet):
        effnet_cost(c, net)
        return c.layers
    if not isinstance(net, AnyNet):
        raise TypeError(f"expected an AnyNet or an EfficientNet, got {type(net).__name__}")
    stem_cost(c, net.stem, net.stem_width)
    block_cost = BLOCK_COSTS[net.block]
    w_in = net.stem_width
    stages = zip(
        net.depths, net.built_widths, net.strides, net.bottleneck_ratios, net.built_group_widths
    )
    for i, (d, w, s, b, g) in enumerate(stages, start=1):
        for j in range(1, d + 1):
            block_cost(c, f"s{i}.b{j}", w_in, w, s if j == 1 else 1, b, g, net.se_ratio)
            w_in = w
    head_cost(c, w_in, net.head_width, net.num_classes)
    return c.layers


def complexity(net: AnyNet | EfficientNet) -> dict[str, int]:
    """Exact ``{'flops', 'params', 'acts'}`` of ``net`` (integers)."""
    ls = layers(net)
    return {k: sum(getattr(x, k) for x in ls) for k in ("flops", "params", "acts")}


def complexity_batch(
    depths,
    widths,
    group_widths,
    bottleneck_ratios=1.0,
    strides=2,
    *,
    stem: str = "simple_stem_in",
    stem_width: int = 32,
    block: str = "res_bottleneck_block",
    se_ratio: float = 0.0,
    head_width: int = 0,
    num_classes: int = 1000,
    resolution: int = 224,
) -> dict[str, np.ndarray]:
    """Vectorised :func:`complexity` of N built nets (per-stage arrays (N, S) or broadcastable,
    as ``AnyNet.built_widths``; network fields shared); int64 arrays of shape (N,)."""
    d = np.asarray(depths, dtype=np.int64)
    if d.ndim != 2:
        raise ValueError("depths must be an (N, S) array")
    n = d.shape[0]
    w = np.broadcast_to(np.asarray(widths, dtype=np.int64), d.shape)
    g = np.broadcast_to(np.asarray(group_widths, dtype=np.int64), d.shape)
    b = np.broadcast_to(np.asarray(bottleneck_ratios, dtype=np.float64), d.shape)
    s = np.broadcast_to(np.asarray(strides, dtype=np.int64), d.shape)
    block_cost = BLOCK_COSTS[block]
    c = _Totals(np.full(n, resolution, dtype=np.int64))
    stem_cost(c, stem, stem_width)
    w_in = np.full(n, stem_width, dtype=np.int64)
    stages = zip(d.T, w.T, g.T, b.T, s.T)  # stage-major: a stage's values are a row
    for di, wi, gi, bi, si in stages:
        wi = np.ascontiguousarray(wi)  # used in most of the arithmetic: contiguous is faster
        block_cost(c, "", w_in, wi, si, bi, gi, se_ratio)  # the first block
        rest = _Totals(c.h, c._sizes)  # and d - 1 copies of the next
        block_cost(rest, "", wi, wi, 1, bi, gi, se_ratio)
        c.add_copies(rest, di - 1)
        w_in = wi
    head_cost(c, w_in, head_width, num_classes)
    return c.totals()
