"""The short-schedule trainer: tiny real AnyNets learn digits; failures are recorded, not raised."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from trainer_fixtures import tiny_net

import dsd
from dsd.errors import DataError, DsdError
from dsd.nets import build_model
from dsd.nets.model import zero_init_residual
from dsd.trainer import (
    RESULT_COLUMNS,
    TrainConfig,
    check_device,
    pick_device,
    sample_row,
    train,
    train_row,
)
from dsd.trainer.device import autocast_dtype
from dsd.trainer.engine import lr_at

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Enough to learn digits in two epochs (the paper's lr 0.05 needs many more steps).
FAST = dict(batch_size=32, lr=0.5)


@pytest.fixture(scope="module")
def learned():
    """Two different tiny real models trained 2 epochs on digits (shared by several tests)."""
    torch.set_num_threads(1)
    nets = [tiny_net(32, resolution=12), tiny_net(24, resolution=8, block="res_basic_block")]
    return [(net, dsd.train(net, "digits", epochs=2, **FAST)) for net in nets]  # the public API


def test_tiny_models_learn_digits_far_below_chance(learned):
    for net, rec in learned:
        assert rec["status"] == "ok", rec["reason"]
        assert rec["top1_err"] < 0.3, (net, rec["test_err"])  # chance is 0.9; ~0.07 here
        assert rec["train_loss"][1] < rec["train_loss"][0] < math.log(10) + 0.1


def test_record_has_sample_and_result_columns(learned):
    net, rec = learned[0]
    row = sample_row(net, space="test")
    for key in [*row, *RESULT_COLUMNS]:
        assert key in rec, key
    assert rec["model_id"] == net.model_id and rec["widths"] == [16, 32]
    assert rec["flops"] == dsd.complexity(net)["flops"]
    assert rec["epochs"] == 2 and len(rec["train_loss"]) == 2 and len(rec["test_err"]) == 2
    assert rec["top1_err"] == rec["test_err"][-1] and rec["top1_err_min"] == min(rec["test_err"])
    # digits' fixed split has 450 test images: every error is a multiple of 1/450
    assert all(abs(e * 450 - round(e * 450)) < 1e-9 for e in rec["test_err"])
    assert rec["lr"] == 0.5 and rec["batch_size"] == 32 and rec["weight_decay"] == 5e-5
    assert rec["device"] == "cpu" and rec["reason"] == "" and rec["train_seed"] == 0
    assert rec["images_per_second"] > 0 and rec["train_seconds"] > 0
    assert rec["finished_at"].endswith("+00:00")


def test_same_seed_gives_identical_results_and_another_seed_does_not():
    net = tiny_net(16)
    runs = [train(net, "digits", epochs=1, batch_size=64, seed=s) for s in (3, 3, 4)]
    assert runs[0]["train_loss"] == runs[1]["train_loss"]
    assert runs[0]["test_err"] == runs[1]["test_err"]
    assert runs[0]["train_loss"] != runs[2]["train_loss"]


def test_absurd_learning_rate_is_recorded_as_diverged():
    rec = train(tiny_net(16), "digits", epochs=2, batch_size=64, lr=1e6)
    assert rec["status"] == "diverged"
    assert "loss became" in rec["reason"]
    assert math.isnan(rec["top1_err"]) and math.isnan(rec["top1_err_min"])
    assert math.isnan(rec["train_loss"][-1]) and rec["test_err"] == []


class _Broken(torch.nn.Module):
    """A model whose forward pass raises, like an out-of-memory error would."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        raise RuntimeError("CUDA out of memory (simulated)")


def test_model_that_raises_is_recorded_as_failed():
    rec = train(tiny_net(16), "digits", epochs=1, build=lambda net: _Broken())
    assert rec["status"] == "failed"
    assert rec["reason"] == "RuntimeError: CUDA out of memory (simulated)"
    assert math.isnan(rec["top1_err"]) and rec["train_loss"] == []


def test_invalid_config_row_is_recorded_as_failed():
    row = sample_row(tiny_net(16))
    row["widths"] = [16, 32, 64]  # three widths for two stages
    rec = train_row(row, TrainConfig(epochs=1))
    assert rec["status"] == "failed" and "widths" in rec["reason"]
    assert rec["model_id"] == row["model_id"] and rec["widths"] == [16, 32, 64]


def test_class_count_mismatch_is_a_data_error():
    with pytest.raises(DataError, match="10 classes but the model has num_classes=100"):
        train(tiny_net(16, classes=100), "digits", epochs=1)


def test_synthetic_data_follows_the_models_class_count():
    rec = train(tiny_net(16, classes=37), "synthetic", epochs=1, synthetic_size=128, batch_size=64)
    assert rec["status"] == "ok" and rec["num_classes"] == 37
    assert 0.8 < rec["top1_err"] <= 1.0  # random labels: nothing to learn


def test_options_label_smoothing_mixup_ema_and_warmup_run_and_are_recorded():
    rec = train(
        tiny_net(16),
        "digits",
        epochs=2,
        warmup_epochs=0.5,
        label_smoothing=0.1,
        mixup_alpha=0.2,
        ema=0.9,
        **FAST,
    )
    assert rec["status"] == "ok", rec["reason"]
    assert (rec["label_smoothing"], rec["mixup_alpha"], rec["ema"]) == (0.1, 0.2, 0.9)
    assert rec["warmup_epochs"] == 0.5
    assert rec["top1_err"] < 0.6


def test_recipe_defaults_are_the_papers():
    c = TrainConfig(dataset="cifar10", data="/nowhere")
    assert (c.batch_size, c.lr, c.weight_decay, c.momentum) == (128, 0.05, 5e-5, 0.9)
    big = TrainConfig(dataset="synthetic", batch_size=512)
    assert big.lr == pytest.approx(0.2) and big.recipe()["lr"] == pytest.approx(0.2)
    assert TrainConfig(dataset="synthetic", batch_size=512, lr=0.3).lr == 0.3
    assert (c.label_smoothing, c.mixup_alpha, c.ema, c.warmup_epochs) == (0, 0, 0, 0)
    assert c.zero_init_residual and c.recipe()["zero_init_residual"] is True


def test_small_digits_gets_more_steps_by_default_and_explicit_values_win():
    c = TrainConfig()  # digits: 1,347 images, 10 steps an epoch at the paper's batch 128
    assert (c.batch_size, c.lr, c.warmup_epochs) == (32, 0.2, 0.5)
    assert TrainConfig(batch_size=64).lr == pytest.approx(0.4)  # scaled from 0.2 per 32
    explicit = TrainConfig(batch_size=128, lr=0.05, warmup_epochs=0.0)
    assert (explicit.batch_size, explicit.lr, explicit.warmup_epochs) == (128, 0.05, 0.0)
    assert c.replace(epochs=3).batch_size == 32  # the resolved values stay in the frozen copy


def test_zero_init_residual_makes_every_block_start_as_its_shortcut():
    net = tiny_net(32, resolution=8, depths=(2, 3))
    torch.manual_seed(0)
    model = build_model(net)
    assert zero_init_residual(model) == 5  # one residual branch a block
    model.eval()
    x = model.stem(torch.randn(4, 3, 8, 8))
    for stage in (model.s1, model.s2):
        for j, block in enumerate(stage):
            # an identity block passes its input through relu(0 + x); a projection block gives
            # relu(proj(x)): the branch contributes exactly nothing
            shortcut = block.proj_bn(block.proj(x)) if block.proj is not None else x
            assert torch.equal(block(x), torch.relu(shortcut)), (stage, j)
            x = block(x)


def test_half_period_cosine_with_linear_warmup():
    assert lr_at(0, 100, 0.4) == 0.4
    assert lr_at(50, 100, 0.4) == pytest.approx(0.2)
    assert lr_at(100, 100, 0.4) == pytest.approx(0.0)
    assert lr_at(0, 100, 0.4, warmup_steps=10, warmup_factor=0.1) == pytest.approx(0.04)
    # half-way through warm-up: factor 0.55, times the cosine at step 5
    expected = 0.4 * 0.5 * (1 + math.cos(math.pi * 5 / 100)) * 0.55
    assert lr_at(5, 100, 0.4, warmup_steps=10) == pytest.approx(expected)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(dataset="mnist"), "unknown dataset"),
        (dict(dataset="cifar10"), "needs a data path"),
        (dict(dataset="digits", data="/data/cifar"), "takes no data path"),
        (dict(epochs=10**9), "epochs must be from 1 to 100,000"),
        (dict(batch_size=10**9), "batch size must be from 2 to 65,536"),
        (dict(num_workers=10**6), "num_workers must be from 0 to 256"),
        (dict(dataset="synthetic", synthetic_size=2**32 - 1), "synthetic_size must be from 1"),
        (dict(epochs=0), "epochs"),
        (dict(lr=-1.0), "lr"),
        (dict(ema=1.0), "ema"),
        (dict(device="tpu"), "unknown device"),
    ],
)
def test_bad_recipe_values_are_rejected(changes, message):
    with pytest.raises(DsdError, match=message):
        TrainConfig(**changes)


def test_ema_update_is_the_exponential_average():
    from dsd.trainer.engine import EMA

    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema = EMA(model, decay=0.75)
    with torch.no_grad():
        model.weight.fill_(3.0)
    ema.update(model)
    assert torch.allclose(ema.model.weight, torch.full((1, 2), 0.75 * 1.0 + 0.25 * 3.0))
    assert not ema.model.weight.requires_grad


def test_mixup_mixes_inputs_with_a_permutation_and_returns_both_label_sets():
    from dsd.trainer.engine import mixup

    x = torch.arange(8, dtype=torch.float32).view(8, 1)
    y = torch.arange(8)
    gen = torch.Generator().manual_seed(0)
    mx, y2, lam = mixup(x, y, 0.4, np.random.default_rng(0), gen)
    assert 0 < lam < 1 and sorted(y2.tolist()) == list(range(8))
    assert torch.allclose(mx.view(-1), lam * x.view(-1) + (1 - lam) * y2.float())
    assert mixup(x, y, 0.0, np.random.default_rng(0), gen) == (x, y, 1.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (runs on a GPU machine)")
@pytest.mark.parametrize("options", [{}, {"channels_last": "on", "ema": 0.9, "mixup_alpha": 0.2}])
def test_cuda_fast_path_learns_digits_under_bf16(options):
    rec = train(tiny_net(32, resolution=12), "digits", epochs=2, device="cuda", **FAST, **options)
    assert rec["status"] == "ok", rec["reason"]
    assert rec["device"].startswith("cuda:") and rec["top1_err"] < 0.5


def test_default_recipe_teaches_sampled_tiny_models_digits_in_three_epochs():
    # the failure: with batch 128 (10 steps an epoch) and gamma-1 residual BN, sampled
    # AnyNetXA models of this regime ended 3 epochs at 0.74-0.90 error
    rows = dsd.load_space("AnyNetXA").sample(
        3,
        flops=(0.5e6, 2e6),
        seed=0,
        resolution=16,
        num_classes=10,
        stem="res_stem_cifar",
        stem_width=16,
    )
    config = TrainConfig(dataset="digits", epochs=3, num_workers=0)
    errors = [train_row(row, config)["top1_err"] for row in rows.to_dict(orient="records")]
    assert np.median(errors) < 0.5, errors


# --- devices: one check for dsd train, dsd time and the sweep -------------------------------------


@pytest.fixture
def two_gpus(monkeypatch):
    """A machine that says it has two CUDA devices (nothing is run on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.fixture
def no_cuda(monkeypatch):
    """A machine without CUDA, whatever this one has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.mark.parametrize(
    "bad", ["gpu", "", "cuda:-1", "meta", "CPU", "cuda:1 ", "cuda:01", 3, None]
)
def test_device_spellings_outside_the_four_are_refused_by_name(bad):
    with pytest.raises(DsdError, match=r"unknown device .*\(use auto, cpu, cuda or cuda:N\)"):
        check_device(bad)
    with pytest.raises(DataError, match="unknown device"):
        pick_device(bad)
    if isinstance(bad, str):
        with pytest.raises(DsdError, match="unknown device"):
            TrainConfig(device=bad)


def test_devices_a_machine_with_two_gpus_has(two_gpus):
    assert pick_device("cuda:1") == torch.device("cuda:1")
    assert pick_device("cuda") == torch.device("cuda") and pick_device("auto").type == "cuda"
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(DataError, match=r"'cuda:2': this machine has 2 GPU\(s\), cuda:0..cuda:1"):
        pick_device("cuda:2")
    with pytest.raises(DataError, match="cuda:99"):
        pick_device("cuda:99")


def test_cuda_without_cuda_is_refused_not_run_on_the_cpu(no_cuda):
    assert pick_device("auto") == torch.device("cpu")
    for name in ("cuda", "cuda:0"):
        with pytest.raises(DataError, match=f"'{name}': CUDA is not available on this machine"):
            pick_device(name)
    TrainConfig(device="cuda")  # the spelling is fine where the recipe is written


def test_precision_values_and_their_autocast_types():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert autocast_dtype("auto", cpu) is None and autocast_dtype("auto", cuda) is torch.bfloat16
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    assert autocast_dtype("fp16", cpu) is torch.float16 and autocast_dtype("fp32", cuda) is None
    with pytest.raises(DsdError, match="unknown precision 'amp'"):
        TrainConfig(precision="amp")


def test_fp16_and_bf16_training_learn_digits_on_the_cpu():
    for precision in ("bf16", "fp16"):
        rec = train(tiny_net(32, resolution=12), "digits", epochs=2, precision=precision, **FAST)
        assert rec["status"] == "ok" and rec["top1_err"] < 0.5, (precision, rec["reason"])


def test_dsd_train_refuses_a_device_it_cannot_use_in_one_line(tmp_path, capsys, two_gpus):
    from trainer_fixtures import write_samples

    from dsd.cli import main

    samples = write_samples(tmp_path / "s.parquet", [tiny_net(16)])
    out = tmp_path / "r.parquet"
    for device, needle in (
        ("gpu", "unknown device 'gpu'"),
        ("meta", "unknown device 'meta'"),
        ("cuda:-1", "unknown device 'cuda:-1'"),
        ("cuda:2", "this machine has 2 GPU(s)"),
    ):
        assert main(["train", str(samples), "-o", str(out), "--device", device]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
        assert not out.exists() and not (tmp_path / "r.parquet.run").exists()
