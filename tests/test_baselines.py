"""The paper's baselines: ResNe(X)t, CIFAR ResNets and EfficientNet-B0..B5 against their published
figures, against the built torch modules (parameters, activations, fvcore flops) and by name."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import dsd
from dsd.analysis.runtime import published_figures
from dsd.cli import main
from dsd.errors import DsdError
from dsd.nets import EfficientNet, baseline_models, build_model, complexity, layers, model_names
from dsd.nets.effnet_model import MBConv, drop_connect

pytestmark = pytest.mark.usefixtures("one_torch_thread")

IMAGENET_BASELINES = [
    *(f"ResNet-{n}" for n in (50, 101, 152)),
    *(f"ResNeXt-{n}" for n in (50, 101, 152)),
    *(f"EfficientNet-B{k}" for k in range(6)),
]


# --- published figures ----------------------------------------------------------------------------


def test_efficientnet_b0_and_resnet56_exact_published_complexity():
    assert complexity(dsd.zoo_model("EfficientNet-B0")) == {
        "flops": 385_825_092,
        "params": 5_288_548,
        "acts": 6_748_036,
    }
    assert complexity(dsd.zoo_model("ResNet-56")) == {
        "flops": 125_747_850,
        "params": 855_770,
        "acts": 544_778,
    }


def test_every_published_model_matches_the_model_zoo_figures():
    """flops (B), params (M) and acts (M) of the 24 RegNets and the 12 ImageNet baselines, to the
    published precision (pycls MODEL_ZOO)."""
    pub = published_figures()
    assert set(IMAGENET_BASELINES) <= set(pub["model"])
    assert len(pub) == 36
    for r in pub.itertuples():
        cx = complexity(dsd.zoo_model(r.model))
        got = (
            round(cx["flops"] / 1e9, 1),
            round(cx["params"] / 1e6, 1),
            round(cx["acts"] / 1e6, 1),
        )
        assert got == (r.flops_b, r.params_m, r.acts_m), r.model


def test_resnet110_is_resnet56_with_twice_the_blocks():
    r56, r110 = dsd.zoo_model("ResNet-56"), dsd.zoo_model("ResNet-110")
    assert r110 == r56.replace(depths=(18, 18, 18))
    # He et al. (2016), Table 6: 0.85M and 1.7M parameters.
    assert round(complexity(r110)["params"] / 1e6, 1) == 1.7
    # Each extra basic block at stage i adds two 3x3 convs (w*w*9 each) and two BNs.
    c56, c110 = complexity(r56), complexity(r110)
    extra = sum(9 * (2 * 9 * w * w + 4 * w) for w in (16, 32, 64))
    assert c110["params"] - c56["params"] == extra


def test_resnet_and_resnext_are_anynets_with_the_reference_structure():
    r50, x50 = dsd.zoo_model("ResNet-50"), dsd.zoo_model("ResNeXt-50")
    assert isinstance(r50, dsd.AnyNet)
    assert (r50.stem, r50.stem_width, r50.block) == ("res_stem_in", 64, "res_bottleneck_block")
    assert r50.widths == x50.widths == (256, 512, 1024, 2048)
    assert r50.strides == (1, 2, 2, 2)
    # ResNet: one group of width w/4; ResNeXt 32x4d: 32 groups of 4 channels at the first stage.
    assert r50.built_group_widths == (64, 128, 256, 512)
    assert x50.built_group_widths == (4, 8, 16, 32)
    first = next(x for x in layers(x50) if x.name == "s1.b1.f.b")
    assert (first.w_in, first.groups) == (128, 32)


# --- the built modules ----------------------------------------------------------------------------


def _params_acts_and_output(net, model: nn.Module):
    """Parameter count, conv/linear/max-pool output elements, and the output shape (batch 1)."""
    acts = 0

    def hook(_m, _i, out):
        nonlocal acts
        acts += out[0].numel()

    hs = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.MaxPool2d))
    ]
    with torch.no_grad():
        y = model.eval()(torch.zeros(1, 3, net.resolution, net.resolution))
    for h in hs:
        h.remove()
    return sum(p.numel() for p in model.parameters()), acts, tuple(y.shape)


@pytest.mark.parametrize("name", [*IMAGENET_BASELINES, "ResNet-56", "ResNet-110"])
def test_built_module_has_the_counted_params_and_acts_at_its_resolution(name):
    net = dsd.zoo_model(name)
    torch.manual_seed(0)
    params, acts, shape = _params_acts_and_output(net, build_model(net))
    cx = complexity(net)
    assert (params, acts) == (cx["params"], cx["acts"])
    assert shape == (1, net.num_classes)


@pytest.mark.parametrize("name", ["EfficientNet-B0", "EfficientNet-B3", "ResNeXt-50", "ResNet-56"])
def test_flops_match_fvcore_plus_bias_adds(name):
    from fvcore.nn import FlopCountAnalysis

    net = dsd.zoo_model(name)
    if net.resolution > 100:  # same structure, smaller input: keeps the trace quick
        net = net.replace(resolution=96)
    model = build_model(net).eval()
    fa = (
        FlopCountAnalysis(model, torch.zeros(1, 3, net.resolution, net.resolution))
        .unsupported_ops_warnings(False)
        .uncalled_modules_warnings(False)
    )
    counted = {k: v for k, v in fa.by_operator().items() if k in ("conv", "linear", "addmm")}
    bias_adds = sum(
        x.w_out * x.h_out**2
        for x in layers(net)
        if x.op in ("conv", "linear") and model.get_submodule(x.name).bias is not None
    )
    assert sum(counted.values()) + bias_adds == complexity(net)["flops"]


def test_effnet_layers_name_the_built_submodules_with_their_parameter_counts():
    net = dsd.zoo_model("EfficientNet-B1")
    model = build_model(net)
    kinds = {"conv": nn.Conv2d, "bn": nn.BatchNorm2d, "linear": nn.Linear}
    counted = layers(net)
    for x in counted:
        m = model.get_submodule(x.name)
        assert isinstance(m, kinds[x.op]), x.name
        assert sum(p.numel() for p in m.parameters(recurse=False)) == x.params, x.name
    leaves = [n for n, m in model.named_modules() if isinstance(m, tuple(kinds.values()))]
    assert sorted(leaves) == sorted(x.name for x in counted)


def test_mbconv_structure_skip_and_expansion():
    net = dsd.zoo_model("EfficientNet-B0")
    model = build_model(net)
    blocks = [m for m in model.modules() if isinstance(m, MBConv)]
    assert len(blocks) == sum(net.depths) == 16
    # A skip where stride 1 and width unchanged: every block after the first of a stage (9),
    # and no first block (each stage changes the width).
    assert sum(b.has_skip for b in blocks) == sum(d - 1 for d in net.depths)
    # Stage 1 has expansion 1: no expansion conv; SE width from the block input: int(32 * 0.25).
    s1 = model.get_submodule("s1.b1")
    assert s1.exp is None and s1.se.reduce.out_channels == 8
    s2 = model.get_submodule("s2.b2")
    assert s2.exp.out_channels == 144 and s2.se.reduce.out_channels == 6
    assert model.get_submodule("s3.b1.dwise").kernel_size == (5, 5)


def test_drop_connect_drops_whole_samples_and_keeps_the_mean():
    torch.manual_seed(0)
    x = torch.ones(20_000, 2, 3, 3, dtype=torch.float64)
    y = drop_connect(x, 0.25)
    per_sample = y.flatten(1)
    assert set(per_sample.min(1).values.tolist()) <= {0.0, 1 / 0.75}
    assert torch.equal(per_sample.min(1).values, per_sample.max(1).values)  # whole samples
    assert abs(float((per_sample[:, 0] == 0).float().mean()) - 0.25) < 0.015
    assert abs(float(y.mean()) - 1.0) < 0.02


def test_drop_connect_acts_in_training_only():
    net = EfficientNet(
        depths=(1, 2), widths=(8, 8), exp_ratios=(1, 4), strides=(1, 1), resolution=8
    )
    net = net.replace(drop_connect=0.5, dropout=0.0, head_width=16, num_classes=3)
    torch.manual_seed(0)
    model = build_model(net)
    x = torch.randn(64, 3, 8, 8)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(1)
    a = model(x)
    torch.manual_seed(2)
    assert not torch.allclose(a, model(x))


# --- by name --------------------------------------------------------------------------------------


def test_names_are_case_insensitive_and_network_fields_override():
    names = model_names()
    assert len(names) == 24 + 14
    assert set(baseline_models()) == {*IMAGENET_BASELINES, "ResNet-56", "ResNet-110"}
    assert dsd.zoo_model("efficientnet-b2") == dsd.zoo_model("EfficientNet-B2")
    assert [dsd.zoo_model(f"EfficientNet-B{k}").resolution for k in range(6)] == [
        224,
        240,
        260,
        300,
        380,
        456,
    ]
    small = dsd.zoo_model("EfficientNet-B0", resolution=32, num_classes=10)
    assert (small.resolution, small.num_classes) == (32, 10)
    assert small.model_id != dsd.zoo_model("EfficientNet-B0").model_id
    with pytest.raises(DsdError, match="EfficientNet-B0"):
        dsd.zoo_model("EfficientNet-B9")


def test_efficientnet_config_is_validated_and_round_trips():
    net = dsd.zoo_model("EfficientNet-B0")
    assert EfficientNet.from_dict(net.to_dict()) == net
    assert net.to_dict()["family"] == "efficientnet"
    with pytest.raises(DsdError, match="odd"):
        net.replace(kernels=4)
    with pytest.raises(DsdError, match="exp_ratios"):
        net.replace(exp_ratios=0.5)
    with pytest.raises(DsdError, match="7 stages"):
        net.replace(kernels=(3, 3))


def test_dsd_show_baselines(capsys):
    assert main(["show", "EfficientNet-B0"]) == 0
    out = capsys.readouterr().out
    assert "flops 385,825,092  params 5,288,548  acts 6,748,036" in out
    assert "5x5" in out
    assert main(["show", "ResNet-56", "--layers"]) == 0
    out = capsys.readouterr().out
    assert "flops 125,747,850  params 855,770  acts 544,778" in out
    assert "s3.b9.f.b" in out
    assert main(["show", "EfficientNet-B0", "--layers"]) == 0
    assert "s7.b1.se.expand" in capsys.readouterr().out
