"""Exact complexity of AnyNets: flops, params, acts, by the reference's conventions.

- flops: multiply-adds of convolutions and fully connected layers, bias adds included; batch
  norm, ReLU, pooling and the SE multiply count 0.
- params: every learnable parameter (conv and linear weights and biases, BN's gamma and beta).
- acts: the number of elements of every conv, linear and max-pool output.

Two implementations that check each other:

- :func:`layers` walks a network layer by layer, in the order and with the names of the
  modules :func:`dsd.nets.build_model` builds; :func:`complexity` sums it.
- :func:`complexity_batch` is the closed form over arrays of many configs at once (numpy in,
  numpy out), the sampler's engine: blocks after the first in a stage are identical, so a stage
  costs ``first + (d - 1) * rest``.

A convolution with odd kernel ``k``, padding ``k // 2`` and stride ``s`` maps size ``h`` to
``(h - 1) // s + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsd.nets.config import AnyNet


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


def out_size(h: int, stride: int) -> int:
    """Output size of an odd-kernel, 'same'-padded conv or pool."""
    return (h - 1) // stride + 1


class _Counter:
    """Accumulates :class:`Layer` records while tracking the spatial size."""

    def __init__(self, h: int) -> None:
        self.h = h
        self.layers: list[Layer] = []

    def conv(self, name, w_in, w_out, k, stride=1, groups=1, bias=False, h=None):
        h_out = out_size(self.h if h is None else h, stride)
        hw = h_out * h_out
        flops = k * k * w_in * w_out * hw // groups + (w_out * hw if bias else 0)
        params = k * k * w_in * w_out // groups + (w_out if bias else 0)
        self.layers.append(
            Layer(name, "conv", w_in, w_out, k, stride, groups, h_out, flops, params, w_out * hw)
        )
        return h_out

    def bn(self, name, w):
        self.layers.append(Layer(name, "bn", w, w, 1, 1, 1, self.h, 0, 2 * w, 0))

    def maxpool(self, name, w, k, stride):
        self.h = out_size(self.h, stride)
        self.layers.append(
            Layer(name, "maxpool", w, w, k, stride, 1, self.h, 0, 0, w * self.h * self.h)
        )

    def linear(self, name, w_in, w_out, bias=True):
        flops = w_in * w_out + (w_out if bias else 0)
        params = w_in * w_out + (w_out if bias else 0)
        self.layers.append(Layer(name, "linear", w_in, w_out, 1, 1, 1, 1, flops, params, w_out))


def _stem(c: _Counter, net: AnyNet) -> None:
    w = net.stem_width
    k, s = {"simple_stem_in": (3, 2), "res_stem_in": (7, 2), "res_stem_cifar": (3, 1)}[net.stem]
    c.h = c.conv("stem.conv", 3, w, k, s)
    c.bn("stem.bn", w)
    if net.stem == "res_stem_in":
        c.maxpool("stem.pool", w, 3, 2)


def _block(
    c: _Counter, net: AnyNet, p: str, w_in: int, w: int, stride: int, b: float, g: int
) -> None:
    h_in = c.h
    if net.block != "vanilla_block" and (w_in != w or stride != 1):
        c.conv(f"{p}.proj", w_in, w, 1, stride)
        c.bn(f"{p}.proj_bn", w)
    if net.block == "res_bottleneck_block":
        w_b = round(w * (1.0 / b))  # the reference's bottleneck multiplier 1 / b
        w_se = round(w_in * net.se_ratio)
        c.conv(f"{p}.f.a", w_in, w_b, 1)
        c.bn(f"{p}.f.a_bn", w_b)
        c.h = c.conv(f"{p}.f.b", w_b, w_b, 3, stride, groups=w_b // g, h=h_in)
        c.bn(f"{p}.f.b_bn", w_b)
        if w_se:
            c.conv(f"{p}.f.se.reduce", w_b, w_se, 1, bias=True, h=1)
            c.conv(f"{p}.f.se.expand", w_se, w_b, 1, bias=True, h=1)
        c.conv(f"{p}.f.c", w_b, w, 1)
        c.bn(f"{p}.f.c_bn", w)
    else:
        f = "f." if net.block == "res_basic_block" else ""
        c.h = c.conv(f"{p}.{f}a", w_in, w, 3, stride, h=h_in)
        c.bn(f"{p}.{f}a_bn", w)
        c.conv(f"{p}.{f}b", w, w, 3)
        c.bn(f"{p}.{f}b_bn", w)


def layers(net: AnyNet) -> list[Layer]:
    """Every counted layer of ``net`` in forward order, named like the built module's submodules.

    ``net`` is an :class:`AnyNet` or a :class:`dsd.nets.efficientnet.EfficientNet`.
    """
    if not isinstance(net, AnyNet):
        from dsd.nets.efficientnet import EfficientNet, effnet_layers

        if isinstance(net, EfficientNet):
            return effnet_layers(net)
        raise TypeError(f"expected an AnyNet or an EfficientNet, got {type(net).__name__}")
    c = _Counter(net.resolution)
    _stem(c, net)
    w_in = net.stem_width
    stages = zip(net.depths, net.widths, net.strides, net.bottleneck_ratios, net.group_widths)
    for i, (d, w, s, b, g) in enumerate(stages, start=1):
        for j in range(1, d + 1):
            _block(c, net, f"s{i}.b{j}", w_in, w, s if j == 1 else 1, b, g)
            w_in = w
    if net.head_width > 0:
        c.conv("head.conv", w_in, net.head_width, 1)
        c.bn("head.bn", net.head_width)
        w_in = net.head_width
    c.linear("head.fc", w_in, net.num_classes)
    return c.layers


def complexity(net: AnyNet) -> dict[str, int]:
    """Exact ``{'flops', 'params', 'acts'}`` of ``net`` (integers; see the module docstring)."""
    ls = layers(net)
    return {
        "flops": sum(x.flops for x in ls),
        "params": sum(x.params for x in ls),
        "acts": sum(x.acts for x in ls),
    }


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
    """Vectorised twin of :func:`complexity` for N configs of S stages each.

    Per-stage arguments are arrays of shape (N, S) (or broadcastable to it), already adjusted
    for compatibility (:func:`dsd.nets.adjust_compatibility`); the network-level fields are shared
    by the batch. Returns int64 arrays of shape (N,).
    """
    d = np.asarray(depths, dtype=np.int64)
    if d.ndim != 2:
        raise ValueError("depths must be an (N, S) array")
    shape = d.shape
    w = np.broadcast_to(np.asarray(widths, dtype=np.int64), shape)
    g = np.broadcast_to(np.asarray(group_widths, dtype=np.int64), shape)
    b = np.broadcast_to(np.asarray(bottleneck_ratios, dtype=np.float64), shape)
    s = np.broadcast_to(np.asarray(strides, dtype=np.int64), shape)
    n, n_stages = shape

    # Stem.
    k0, s0 = {"simple_stem_in": (3, 2), "res_stem_in": (7, 2), "res_stem_cifar": (3, 1)}[stem]
    h = out_size(resolution, s0)
    flops = np.full(n, k0 * k0 * 3 * stem_width * h * h, dtype=np.int64)
    params = np.full(n, k0 * k0 * 3 * stem_width + 2 * stem_width, dtype=np.int64)
    acts = np.full(n, stem_width * h * h, dtype=np.int64)
    if stem == "res_stem_in":
        h = out_size(h, 2)
        acts += stem_width * h * h

    h = np.full(n, h, dtype=np.int64)
    w_in = np.full(n, stem_width, dtype=np.int64)
    for i in range(n_stages):
        wi, di, si = w[:, i], d[:, i], s[:, i]
        h_out = (h - 1) // si + 1
        hw_in, hw = h * h, h_out * h_out
        if block != "vanilla_block":  # projection shortcut on the first block
            proj = (w_in != wi) | (si != 1)
            flops += np.where(proj, w_in * wi * hw, 0)
            params += np.where(proj, w_in * wi + 2 * wi, 0)
            acts += np.where(proj, wi * hw, 0)
        if block == "res_bottleneck_block":
            gi = g[:, i]
            wb = np.round(wi * (1.0 / b[:, i])).astype(np.int64)
            # first block: a (1x1 at input size), b (3x3 grouped, strided), c (1x1)
            f1 = w_in * wb * hw_in + 9 * wb * gi * hw + wb * wi * hw
            p_body = 9 * wb * gi + wb * wi + 4 * wb + 2 * wi
            p1 = w_in * wb + p_body
            a1 = wb * hw_in + wb * hw + wi * hw
            # later blocks: input width wi, stride 1
            fr = wi * wb * hw + 9 * wb * gi * hw + wb * wi * hw
            pr = wi * wb + p_body
            ar = 2 * wb * hw + wi * hw
            if se_ratio > 0:
                se1 = np.round(w_in * se_ratio).astype(np.int64)
                ser = np.round(wi * se_ratio).astype(np.int64)
                c1 = np.where(se1 > 0, 2 * wb * se1 + se1 + wb, 0)
                cr = np.where(ser > 0, 2 * wb * ser + ser + wb, 0)
                f1, p1, a1 = f1 + c1, p1 + c1, a1 + np.where(se1 > 0, se1 + wb, 0)
                fr, pr, ar = fr + cr, pr + cr, ar + np.where(ser > 0, ser + wb, 0)
        else:  # basic and vanilla blocks: 3x3 (strided) then 3x3
            f1 = 9 * w_in * wi * hw + 9 * wi * wi * hw
            p1 = 9 * w_in * wi + 9 * wi * wi + 4 * wi
            a1 = 2 * wi * hw
            fr = 18 * wi * wi * hw
            pr = 18 * wi * wi + 4 * wi
            ar = a1
        flops += f1 + (di - 1) * fr
        params += p1 + (di - 1) * pr
        acts += a1 + (di - 1) * ar
        h, w_in = h_out, wi

    if head_width > 0:
        hw = h * h
        flops += w_in * head_width * hw
        params += w_in * head_width + 2 * head_width
        acts += head_width * hw
        w_in = np.full(n, head_width, dtype=np.int64)
    flops += w_in * num_classes + num_classes
    params += w_in * num_classes + num_classes
    acts += num_classes
    return {"flops": flops, "params": params, "acts": acts}
