"""Networks: the paper's published figures, the compatibility rule, and three-way complexity checks."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch import nn

import dsd
from dsd.errors import DsdError
from dsd.nets import (
    BLOCKS,
    NET_FIELDS,
    STEMS,
    AnyNet,
    adjust_compatibility,
    complexity,
    complexity_batch,
    layers,
    model_zoo,
    quantized_linear,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- the paper's and the reference's published figures ------------------------------------------


def test_regnetx_400mf_published_complexity():
    net = dsd.regnet(depth=22, w0=24, wa=24.48, wm=2.54, group_width=16)
    assert net.built_widths == (32, 64, 160, 384)
    assert net.depths == (1, 2, 7, 12)
    assert dsd.complexity(net) == {"flops": 397_678_568, "params": 5_157_512, "acts": 3_143_272}


def test_regnety_400mf_published_complexity():
    net = dsd.zoo_model("RegNetY-400MF")
    assert net.se_ratio == 0.25 and net.built_group_widths == (8, 8, 8, 8)
    assert dsd.complexity(net) == {"flops": 401_849_056, "params": 4_344_144, "acts": 3_892_496}


def test_generated_widths_of_regnetx_400mf_before_adjustment():
    # PAPER.md: generated widths 24, 64, 152, 392 with g = 16 become 32, 64, 160, 384.
    block, s = quantized_linear(22, 24, 24.48, 2.54)
    g = dsd.regnet(depth=22, w0=24, wa=24.48, wm=2.54, group_width=16)
    assert g.widths == (24, 64, 152, 392)  # the design: the generated widths
    assert g.depths == (1, 2, 7, 12)
    assert len(block) == 22 and len(g.widths) == 4 == int(s.max()) + 1
    w, gw = adjust_compatibility(g.widths, 1.0, 16)
    assert w.tolist() == [32, 64, 160, 384] and gw.tolist() == [16, 16, 16, 16]
    assert (g.built_widths, g.built_group_widths) == (tuple(w.tolist()), tuple(gw.tolist()))


def test_zoo_has_the_papers_24_models_near_their_nominal_flops():
    zoo = model_zoo()
    assert len(zoo) == 24
    for name, entry in zoo.items():
        nominal = float(name.split("-")[1].replace("MF", "e6").replace("GF", "e9"))
        flops = complexity(entry.net())["flops"]
        assert 0.85 * nominal < flops < 1.15 * nominal, (name, flops)
        assert entry.net().num_stages == 4


def test_zoo_lookup_is_case_insensitive_and_unknown_names_are_clear():
    assert dsd.zoo_model("regnetx-400mf") == dsd.zoo_model("RegNetX-400MF")
    with pytest.raises(DsdError, match="unknown model 'RegNetZ-1GF'"):
        dsd.zoo_model("RegNetZ-1GF")


# --- the compatibility rule ---------------------------------------------------------------------


def _reference_adjust(w: int, b: float, g: int) -> tuple[int, int]:
    """PAPER.md's rule, written out with Python scalars (an independent transcription)."""
    m = 1 / b
    v = int(max(1, w * m))
    g = int(min(g, v))
    q = math.lcm(g, int(m)) if m > 1 else g
    v = max(q, int(round(v / q) * q))
    return int(v / m), g


def test_vectorised_adjustment_matches_scalar_rule_on_random_inputs():
    rng = random.Random(0)
    cases = [
        (
            rng.randrange(8, 1025, 8),
            rng.choice([0.25, 0.5, 1, 2, 4]),
            rng.choice([1, 2, 4, 8, 16, 32, 64]),
        )
        for _ in range(5000)
    ]
    w, b, g = (np.array(x) for x in zip(*cases))
    wa, ga = adjust_compatibility(w, b, g)
    for (wi, bi, gi), wo, go in zip(cases, wa, ga):
        assert (wo, go) == _reference_adjust(wi, bi, gi)


def test_adjusted_configs_are_compatible_and_adjustment_is_idempotent():
    rng = np.random.default_rng(1)
    w = rng.integers(1, 129, 4000) * 8
    b = rng.choice([0.25, 0.5, 1.0, 2.0, 4.0], 4000)
    g = rng.choice([1, 2, 4, 8, 16, 32], 4000)
    w1, g1 = adjust_compatibility(w, b, g)
    wb = np.round(w1 / b).astype(int)
    assert np.all(wb % g1 == 0) and np.all(g1 <= wb) and np.all(w1 > 0)
    w2, g2 = adjust_compatibility(w1, b, g1)
    assert np.array_equal(w1, w2) and np.array_equal(g1, g2)


def test_half_is_rounded_to_even_as_python_does():
    # w=24, b=1, g=16: v/q = 1.5 -> 2 (even) -> 32; w=40, g=16: 2.5 -> 2 -> 32.
    assert adjust_compatibility([24, 40], 1.0, 16)[0].tolist() == [32, 32]


# --- the AnyNet config --------------------------------------------------------------------------


def test_scalars_apply_to_every_stage_and_dict_round_trips():
    net = AnyNet(
        depths=[1, 2, 3], widths=[16, 32, 64], group_widths=8, bottleneck_ratios=2, strides=2
    )
    assert net.group_widths == (8, 8, 8) and net.bottleneck_ratios == (2.0, 2.0, 2.0)
    assert AnyNet.from_dict({**net.to_dict(), "flops": 1, "space": "x"}) == net
    assert AnyNet.from_dict(net.to_dict()).model_id == net.model_id
    assert len(net.model_id) == 16 and net.model_id != net.replace(num_classes=10).model_id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depths": [1, 0], "widths": [8, 8]}, "depths"),
        ({"depths": [1, 1], "widths": [8]}, "1 values for 2 stages"),
        ({"depths": [1], "widths": [8], "stem": "nope"}, "unknown stem 'nope'"),
        ({"depths": [1], "widths": [8], "block": "nope"}, "unknown block"),
        ({"depths": [1], "widths": [8], "bottleneck_ratios": 0.3}, "bottleneck_ratios"),
        ({"depths": [1], "widths": [8], "resolution": 0}, "resolution"),
        ({"depths": [1.5], "widths": [8]}, "not an integer"),
        ({"depths": [1], "widths": [8], "block": "vanilla_block", "se_ratio": 0.25}, "SE"),
    ],
)
def test_invalid_configs_are_rejected_with_a_clear_message(kwargs, message):
    with pytest.raises(DsdError, match=message):
        AnyNet(**kwargs)


BIG = 10**30


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": BIG}, r"AnyNet.num_classes: must be an integer from 1 to 1,000,000"),
        ({"num_classes": 1_000_001}, "AnyNet.num_classes"),
        ({"widths": [65_537]}, r"AnyNet.widths: must be an integer from 1 to 65,536"),
        ({"group_widths": BIG}, "AnyNet.group_widths"),
        ({"depths": [1025]}, r"AnyNet.depths: must be an integer from 1 to 1,024"),
        ({"depths": [1] * 65, "widths": 8}, "AnyNet.depths: 1 to 64 stages, got 65"),
        ({"strides": 65}, "AnyNet.strides"),
        ({"bottleneck_ratios": 2048}, "AnyNet.bottleneck_ratios"),
        ({"bottleneck_ratios": 1 / 2048}, "AnyNet.bottleneck_ratios"),
        ({"resolution": 8193}, "AnyNet.resolution"),
        ({"stem_width": BIG}, "AnyNet.stem_width"),
        ({"head_width": -1}, "AnyNet.head_width"),
        ({"se_ratio": 1.5}, "AnyNet.se_ratio"),
        ({"se_ratio": float("nan")}, "AnyNet.se_ratio"),
        ({"widths": [float("inf")]}, "AnyNet.widths"),
        ({"stem": 7}, "AnyNet.stem: unknown stem 7"),
    ],
)
def test_every_network_field_has_an_upper_bound_and_a_one_line_refusal(kwargs, message):
    fields = {"depths": [1], "widths": [8], **kwargs}
    with pytest.raises(DsdError, match=message) as e:
        AnyNet(**fields)
    assert "\n" not in str(e.value) and len(str(e.value)) <= 300


def test_the_bounds_themselves_are_allowed():
    net = AnyNet(
        depths=[1024] + [1] * 63,
        widths=65_536,
        group_widths=65_536,
        bottleneck_ratios=1 / 1024,
        strides=64,
        stem_width=65_536,
        head_width=65_536,
        se_ratio=1.0,
        num_classes=1_000_000,
        resolution=8192,
    )
    assert net.num_stages == 64 and net.built_group_widths[0] <= net.built_widths[0] * 1024


def test_efficientnet_errors_name_efficientnet():
    net = dsd.zoo_model("EfficientNet-B0")
    for changes, message in (
        ({"widths": 0}, "EfficientNet.widths"),
        ({"widths": [16] * 6}, "EfficientNet.widths: 6 values for 7 stages"),
        ({"num_classes": BIG}, "EfficientNet.num_classes: must be an integer from 1 to 1,000,000"),
        ({"kernels": 33}, "EfficientNet.kernels"),
        ({"exp_ratios": 2000}, "EfficientNet.exp_ratios"),
        ({"dropout": 1.0}, r"EfficientNet.dropout: must be a number from 0 to 1 \(excluded\)"),
    ):
        with pytest.raises(DsdError, match=message) as e:
            net.replace(**changes)
        assert "AnyNet" not in str(e.value)


# --- three-way complexity checks on random configs ----------------------------------------------


def random_net(rng: random.Random) -> AnyNet:
    """A small random AnyNet over every stem, block, SE on/off, head, strides, 1-5 stages.

    Every block in :data:`dsd.nets.BLOCKS` is drawn (the X block twice as often), so a new block
    is checked by the three-way tests below without editing them.
    """
    n = rng.randint(1, 5)
    block = rng.choice(["res_bottleneck_block", *BLOCKS])
    se = rng.choice([0.0, 0.25, 0.5]) if block == "res_bottleneck_block" else 0.0
    return AnyNet(
        depths=[rng.randint(1, 3) for _ in range(n)],
        widths=[rng.randrange(8, 73, 4) for _ in range(n)],
        group_widths=[rng.choice([1, 2, 4, 8, 16]) for _ in range(n)],
        bottleneck_ratios=[rng.choice([0.5, 1, 2, 4]) for _ in range(n)],
        strides=[rng.choice([1, 2]) for _ in range(n)],
        stem=rng.choice(list(STEMS)),
        stem_width=rng.choice([8, 16, 24, 32]),
        block=block,
        se_ratio=se,
        head_width=rng.choice([0, 0, 32]),
        num_classes=rng.choice([10, 100, 1000]),
        resolution=rng.choice([17, 24, 31, 32, 45, 64]),
    )


RANDOM_NETS = [random_net(random.Random(i)) for i in range(300)]


def _torch_counts(net: AnyNet, model: nn.Module) -> tuple[int, int]:
    """params by numel; acts by hooks on every conv / linear / max-pool output."""
    acts = 0

    def hook(_m, _i, out):
        nonlocal acts
        acts += out[0].numel()  # batch of one

    hs = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.MaxPool2d))
    ]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, net.resolution, net.resolution))
    for h in hs:
        h.remove()
    return sum(p.numel() for p in model.parameters()), acts


def test_every_block_and_stem_is_drawn_and_has_a_module():
    from dsd.nets.model import BLOCK_MODULES

    assert set(BLOCK_MODULES) == set(BLOCKS)
    assert {(x.block, x.stem) for x in RANDOM_NETS} == {(b, s) for b in BLOCKS for s in STEMS}


def test_complexity_matches_the_built_module_on_300_random_configs():
    torch.manual_seed(0)
    for net in RANDOM_NETS:
        cx = complexity(net)
        params, acts = _torch_counts(net, dsd.build_model(net))
        assert (cx["params"], cx["acts"]) == (params, acts), net


def test_flops_match_fvcore_plus_bias_adds():
    from fvcore.nn import FlopCountAnalysis

    for net in RANDOM_NETS[:80]:
        model = dsd.build_model(net).eval()
        x = torch.zeros(1, 3, net.resolution, net.resolution)
        fa = (
            FlopCountAnalysis(model, x)
            .unsupported_ops_warnings(False)
            .uncalled_modules_warnings(False)
        )
        # fvcore counts one multiply-add per weight use; the reference adds one per bias add.
        bias_adds = sum(
            layer.w_out * layer.h_out**2
            for layer in layers(net)
            if layer.op in ("conv", "linear") and _has_bias(model, layer.name)
        )
        counted = {k: v for k, v in fa.by_operator().items() if k in ("conv", "linear", "addmm")}
        assert sum(counted.values()) + bias_adds == complexity(net)["flops"], net


def _has_bias(model: nn.Module, name: str) -> bool:
    return model.get_submodule(name).bias is not None


def test_vectorised_complexity_equals_scalar_on_random_batches():
    rng = random.Random(7)
    for _ in range(40):
        proto = random_net(rng)
        nets = []
        for _ in range(25):
            other = random_net(rng)
            n = proto.num_stages
            k = min(n, other.num_stages)
            nets.append(
                proto.replace(
                    depths=[*other.depths[:k], *proto.depths[k:]],
                    widths=[*other.built_widths[:k], *proto.built_widths[k:]],
                    group_widths=[*other.built_group_widths[:k], *proto.built_group_widths[k:]],
                    bottleneck_ratios=[*other.bottleneck_ratios[:k], *proto.bottleneck_ratios[k:]],
                    strides=[*other.strides[:k], *proto.strides[k:]],
                )
            )
        arr = {
            f: np.array([getattr(x, f"built_{f}" if "widths" in f else f) for x in nets])
            for f in ("depths", "widths", "group_widths", "bottleneck_ratios", "strides")
        }
        fields = {
            f: getattr(proto, f)
            for f in NET_FIELDS
            for f in (
                "stem",
                "stem_width",
                "block",
                "se_ratio",
                "head_width",
                "num_classes",
                "resolution",
            )
        }
        got = complexity_batch(**arr, **fields)
        for i, net in enumerate(nets):
            assert {k: int(v[i]) for k, v in got.items()} == complexity(net)


def test_zoo_vectorised_equals_scalar():
    for entry in model_zoo().values():
        net = entry.net()
        got = complexity_batch(
            [net.depths],
            [net.built_widths],
            [net.built_group_widths],
            [net.bottleneck_ratios],
            [net.strides],
            se_ratio=net.se_ratio,
        )
        assert {k: int(v[0]) for k, v in got.items()} == complexity(net)


# --- the built module ---------------------------------------------------------------------------


def test_forward_at_odd_resolutions_and_submodule_names_follow_the_paper():
    net = AnyNet(
        depths=[1, 2], widths=[16, 32], group_widths=8, se_ratio=0.25, resolution=33, num_classes=7
    )
    model = dsd.build_model(net)
    assert model(torch.randn(2, 3, 33, 33)).shape == (2, 7)
    assert model(torch.randn(1, 3, 50, 50)).shape == (1, 7)
    names = {n for n, _ in model.named_modules()}
    assert {
        "stem.conv",
        "s1.b1.proj",
        "s1.b1.f.a",
        "s1.b1.f.b",
        "s1.b1.f.se.reduce",
        "s1.b1.f.c",
        "s2.b2.f.c_bn",
        "head.fc",
    } <= names
    assert model.s1.b1.f.b.groups == 2  # 16 // 8


def test_initialisation_follows_the_reference():
    torch.manual_seed(0)
    model = dsd.build_model(AnyNet(depths=[2], widths=[256], group_widths=256, num_classes=1000))
    conv = model.s1.b1.f.c  # 1x1, fan_out = 256
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.05)
    assert model.head.fc.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.all(model.head.fc.bias == 0)
    assert torch.all(model.s1.b1.f.a_bn.weight == 1) and torch.all(model.s1.b1.f.a_bn.bias == 0)


def test_quantized_linear_matches_a_scalar_transcription_on_random_parameters():
    """One RegNet generator for nets, the sampler and the fit, checked against plain-Python math."""
    import math

    rng = np.random.default_rng(7)
    for _ in range(500):
        d = int(rng.integers(1, 64))
        w0 = 8 * int(rng.integers(1, 32))
        wa = round(float(rng.uniform(0.1, 256)), 1)
        wm = round(float(rng.uniform(1.05, 8)), 3)
        ref = []
        for j in range(d):
            s = round(math.log((w0 + wa * j) / w0) / math.log(wm))
            ref.append(round(w0 * wm**s / 8) * 8)
        got, _ = quantized_linear(d, w0, wa, wm)
        assert got.astype(int).tolist() == ref, (d, w0, wa, wm)
        net = dsd.regnet(depth=d, w0=w0, wa=wa, wm=wm, group_width=8)
        assert np.repeat(net.widths, net.depths).tolist() == ref
    # The case where the fit's former copy (log1p) disagreed with nets and the reference.
    assert dsd.regnet(depth=25, w0=48, wa=19.2, wm=1.96, group_width=8).depths == (1, 4, 6, 13, 1)
    from dsd.analysis.fit import quantized_linear_widths

    assert np.unique(quantized_linear_widths(25, 48, 19.2, 1.96), return_counts=True)[
        1
    ].tolist() == [1, 4, 6, 13, 1]


def test_hash_rows_is_hash_json_of_each_row():
    """The sampler's one-text-a-row ids equal hash_json of each row's dict (canonical JSON)."""
    from dsd.nets.config import hash_json, hash_rows

    rng = np.random.default_rng(0)
    n = 300
    columns = {
        "depths": rng.integers(-5, 10**12, (n, 4)).tolist(),
        "ratios": (rng.standard_normal((n, 3)) * 10.0 ** rng.integers(-8, 9, (n, 3))).tolist(),
        "w0": rng.integers(0, 1000, n).tolist(),
        "wm": [0.1, 1e-05, 2.5, 1e16, -0.0, 3.0] * 50,
    }
    fixed = {"block": "res_bottleneck_block", "se_ratio": 0.25, "stem": 'a "quoted" é', "b": [1]}
    rows = [{**fixed, **{k: v[i] for k, v in columns.items()}} for i in range(n)]
    assert hash_rows(columns, fixed) == [hash_json(r) for r in rows]
    for odd in (np.int64(3), True, float("nan"), "8"):  # JSON would write these otherwise
        with pytest.raises(TypeError, match="hash_rows"):
            hash_rows({"a": [[1, odd]]}, {})
