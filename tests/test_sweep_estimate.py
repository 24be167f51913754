"""The cost estimate of an experiment (its arithmetic against a hand computation with a fake
timing), and ``dsd experiments`` listing and printing the built-in experiment files."""

from __future__ import annotations

import pytest

from dsd.cli import main
from dsd.sweep import ExecutorSettings, estimate, exec_local, load_experiment
from dsd.sweep.estimate import CostEstimate, SpaceCost, estimate_cost
from dsd.sweep.status import duration
from dsd.trainer import TrainConfig
from dsd.trainer.timing import Timing


def fake_timer(ms_per_image: float):
    """A timing function whose training step takes ``ms_per_image`` per image, whatever the
    model; it records the batch sizes it was asked for."""
    asked = []

    def timer(net, *, batch_size, device, threads, warmup, repeats):
        asked.append((batch_size, device, threads))
        return Timing(
            infer_ms=0.0,
            train_ms=ms_per_image * batch_size,
            infer_ms_iqr=0.0,
            train_ms_iqr=0.0,
            batch_size=batch_size,
            time_resolution=net.resolution,
            device=device,
            threads=threads or 0,
            channels_last=False,
            precision="fp32",
            warmup=warmup,
            repeats=repeats,
        )

    timer.asked = asked
    return timer


@pytest.fixture
def cpu_machine(monkeypatch):
    """A machine without CUDA."""
    monkeypatch.setattr(exec_local, "cuda_available", lambda: False)


def test_the_estimate_is_step_time_x_steps_x_epochs_x_models_over_workers(cpu_machine):
    exp = load_experiment("digits_anynetx")  # 3 spaces x 20 models, 5 epochs, batch 32
    timer = fake_timer(ms_per_image=0.5)  # a step of batch 32: 16 ms
    settings = ExecutorSettings(slots=2, threads_per_slot=1)
    est = estimate_cost(exp.sample(), exp.train_config(), settings, timer=timer)
    # digits: 1347 training images // batch 32 = 42 steps an epoch
    hand = 3 * 20 * (1347 // 32) * 5 * 0.016 / 2
    assert est.steps_per_epoch == 42 and est.workers == 2 and est.models == 60
    assert est.seconds == pytest.approx(hand)  # 100.8 s
    assert est.seconds_for(30) == pytest.approx(hand / 2)
    assert [s.models for s in est.spaces] == [20, 20, 20]
    assert {(b, d, t) for b, d, t in timer.asked} == {(32, "cpu", 1)}  # tiny models: real batch
    assert len(timer.asked) == 3 * 2  # two models a space
    assert est.where == "2 workers on the CPU, 1 thread each"
    assert est.describe().startswith("estimated 1m 41s on this machine (2 workers on the CPU")


def test_large_models_are_timed_at_a_smaller_batch_and_scaled(cpu_machine):
    exp = load_experiment("imagenet_anynetx_400mf")  # batch 128, 360-400 MF models
    timer = fake_timer(ms_per_image=10.0)  # a step of batch 128: 1.28 s
    settings = estimate.local_settings(exp.executor)  # a Slurm experiment, as run here
    samples = exp.sample().groupby("space").head(3)
    est = estimate_cost(samples, exp.train_config("/data"), settings, timer=timer, per_space=1)
    assert {b for b, _, _ in timer.asked} == {2}  # 1e9 multiply-adds / ~380e6 per image
    steps = 1_281_167 // 128
    workers = exec_local.cpu_count()
    assert est.seconds == pytest.approx(5 * 3 * steps * 10 * 1.28 / workers)


def test_several_seeds_and_gpus(monkeypatch):
    monkeypatch.setattr(exec_local, "cuda_available", lambda: True)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    samples = load_experiment("digits_anynetx").sample()
    config = TrainConfig(dataset="synthetic", synthetic_size=640, batch_size=64, epochs=2)
    timer = fake_timer(ms_per_image=1.0)
    settings = ExecutorSettings(models_per_gpu=2)
    est = estimate_cost(samples, config, settings, seeds=3, timer=timer, per_space=1)
    assert {(b, d) for b, d, _ in timer.asked} == {(64, "cuda")}  # the recipe's batch on a GPU
    assert est.workers == 4 and est.models == 180
    assert est.seconds == pytest.approx(60 * 3 * (640 // 64) * 2 * 0.064 / 4)


def test_durations_read_as_a_person_would_say_them():
    assert [duration(s) for s in (12, 200, 3720, 2 * 86400 + 3 * 3600)] == [
        "12s",
        "3m 20s",
        "1h 02m",
        "2d 03h",
    ]
    est = CostEstimate((SpaceCost("S", 10, 0.5),), 4, 2, 1, 2, "2 workers", 32)
    assert est.seconds == 10 * 0.5 * 4 * 2 / 2


def test_dsd_experiments_lists_the_builtin_files(capsys):
    assert main(["experiments", "--no-estimate"]) == 0
    out = capsys.readouterr().out
    for name in ("digits_anynetx", "cifar10_quick", "cifar10_anynetx", "imagenet_anynetx_400mf"):
        assert name in out
    quick = next(line for line in out.splitlines() if line.startswith("cifar10_quick"))
    assert quick.split()[1:5] == ["AnyNetXA,AnyNetXC,RegNetX", "32", "3", "cifar10"]


def test_dsd_experiments_name_prints_the_file_and_its_cost(monkeypatch, capsys, cpu_machine):
    monkeypatch.setattr(estimate, "time_model", fake_timer(ms_per_image=0.5))
    assert main(["experiments", "digits_anynetx"]) == 0
    out = capsys.readouterr().out
    assert "name: digits_anynetx" in out  # the file as written
    workers = exec_local.cpu_count()
    hand = 60 * 42 * 5 * 0.016 / workers
    assert f"estimated {duration(hand)} on this machine ({workers} workers on the CPU" in out
    assert "60 trainings x 5 epochs x 42 steps of batch 32" in out


def test_the_quick_cifar_experiment_is_small():
    exp = load_experiment("cifar10_quick")
    assert exp.dataset == "cifar10" and 10 <= exp.n <= 99 and exp.epochs <= 5
    assert exp.resolution == 32 and exp.num_classes == 10
