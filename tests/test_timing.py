"""Timing (dsd.time_model, dsd time) and runtime analysis (dsd.analysis.runtime, dsd runtime)."""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from torch import nn

import dsd
from dsd.analysis.runtime import (
    MATCHED_PAIRS,
    compare_models,
    effnet_ratios,
    published_figures,
    report_sections,
    runtime_correlations,
)
from dsd.cli import main
from dsd.errors import DsdError
from dsd.trainer import timing
from dsd.trainer.timing import TIMING_COLUMNS, Timing, spread_warning, time_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dsd.AnyNet(
    depths=(1, 1),
    widths=(8, 16),
    group_widths=4,
    stem="res_stem_cifar",
    stem_width=8,
    num_classes=10,
    resolution=16,
)


class Sleepy(nn.Module):
    """A module whose forward takes at least ``ms`` milliseconds (a known answer for the timer)."""

    def __init__(self, ms: float) -> None:
        super().__init__()
        self.ms = ms
        self.fc = nn.Linear(3, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.ms / 1e3)
        return self.fc(x.mean((2, 3)))


# --- time_model -----------------------------------------------------------------------------------


def test_time_model_measures_a_known_duration():
    t = time_model(Sleepy(30), batch_size=4, resolution=8, warmup=1, repeats=3)
    assert 30 <= t.infer_ms < 150
    assert 30 <= t.train_ms < 300  # forward sleeps; backward and the step are tiny
    assert t.infer_ms_per_image == pytest.approx(t.infer_ms / 4)
    assert t.train_ms_per_image == pytest.approx(t.train_ms / 4)


def test_time_model_reports_and_restores_threads_and_leaves_weights_alone():
    before = torch.get_num_threads()
    torch.manual_seed(0)
    model = dsd.build_model(TINY)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    t = time_model(model, batch_size=2, threads=2, warmup=0, repeats=2)
    assert t.threads == 2 and torch.get_num_threads() == before
    assert t.time_resolution == 16 and t.device == "cpu"
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    d = t.to_dict()
    assert tuple(d) == TIMING_COLUMNS
    assert d["time_threads"] == 2 and d["time_batch_size"] == 2


def test_time_model_inference_only_and_configs_of_both_families():
    t = time_model(TINY, batch_size=2, warmup=0, repeats=1, train=False)
    assert t.infer_ms > 0 and math.isnan(t.train_ms)
    eff = dsd.zoo_model("EfficientNet-B0", resolution=32, num_classes=10)
    t = time_model(eff, batch_size=2, warmup=0, repeats=1, channels_last=True)
    assert t.infer_ms > 0 and t.train_ms > 0 and t.channels_last
    t = time_model(TINY, batch_size=2, warmup=0, repeats=1, precision="bf16")  # autocast on CPU
    assert t.precision == "bf16" and t.infer_ms > 0 and t.train_ms > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"repeats": 0}, "repeats"),
        ({"threads": 0}, "threads"),
        ({"resolution": -1}, "resolution"),
    ],
)
def test_time_model_rejects_bad_input(kwargs, match):
    with pytest.raises(DsdError, match=match):
        time_model(TINY, **kwargs)


def test_a_bare_module_needs_a_resolution():
    with pytest.raises(DsdError, match="resolution"):
        time_model(Sleepy(0))


# --- dsd time -------------------------------------------------------------------------------------

FAST = ["--batch-size", "2", "--warmup", "0", "--repeats", "1", "--no-progress"]


def _samples_csv(path) -> list[dsd.AnyNet]:
    nets = [TINY, TINY.replace(widths=(16, 24)), TINY.replace(depths=(2, 1))]
    rows = []
    for i, n in enumerate([*nets, nets[0]]):  # a repeated model is timed once
        d = n.to_dict()
        rows.append(
            {
                "model_id": n.model_id,
                "seed": i,
                **{k: json.dumps(v) if isinstance(v, list) else v for k, v in d.items()},
            }
        )
    pd.DataFrame(rows).to_csv(path, index=False)
    return nets


def test_dsd_time_names_and_a_samples_file(tmp_path, capsys):
    samples = tmp_path / "s.csv"
    nets = _samples_csv(samples)
    out = tmp_path / "times.parquet"
    argv = [
        "time",
        "ResNet-56",
        "EfficientNet-B0",
        str(samples),
        "--resolution",
        "16",
        "-o",
        str(out),
    ]
    assert main([*argv, *FAST]) == 0
    text = capsys.readouterr().out
    assert "ResNet-56" in text and "timed 5 model(s) on cpu" in text
    df = pd.read_parquet(out)
    assert len(df) == 2 + 4  # the samples' rows all come back, with the times of their model
    named = df[df["model"].notna()].set_index("model")
    assert named.at["EfficientNet-B0", "family"] == "efficientnet"
    eff16 = dsd.zoo_model("EfficientNet-B0", resolution=16)
    assert named.at["EfficientNet-B0", "model_id"] == eff16.model_id
    assert named.at["EfficientNet-B0", "flops"] == dsd.complexity(eff16)["flops"]
    rows = df[df["model"].isna()]
    assert list(rows["seed"]) == [0, 1, 2, 3]
    assert set(rows["model_id"]) == {n.model_id for n in nets}
    first = rows[rows["model_id"] == nets[0].model_id]
    assert first["infer_ms"].nunique() == 1  # one timing joined to both rows
    for c in TIMING_COLUMNS:
        assert df[c].notna().all(), c
    assert (df["time_resolution"] == 16).all()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["NoSuchNet-1"], "unknown model 'NoSuchNet-1'"),
        (["ResNet-56", "missing.parquet"], "no such file"),
        (["ResNet-56", "--batch-size", "0"], "--batch-size must be >= 1"),
        (["ResNet-56", "--device", "gpu"], "unknown device 'gpu' (use auto, cpu, cuda or cuda:N)"),
        (["ResNet-56", "--device", ""], "unknown device ''"),
        (["ResNet-56", "--device", "cuda:-1"], "unknown device 'cuda:-1'"),
        (["ResNet-56", "--device", "meta"], "unknown device 'meta'"),
    ],
)
def test_dsd_time_bad_input_is_one_line_and_keeps_the_old_output(tmp_path, capsys, argv, needle):
    out = tmp_path / "times.csv"
    out.write_text("old\n")
    argv = [a if a != "missing.parquet" else str(tmp_path / a) for a in argv]
    assert main(["time", *argv, "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert out.read_text() == "old\n"


# --- runtime analysis -----------------------------------------------------------------------------


def _timed_population(n=40, seed=0) -> pd.DataFrame:
    """Times that follow acts exactly (plus noise); flops only loosely related to acts."""
    rng = np.random.default_rng(seed)
    acts = rng.uniform(1e6, 2e7, n)
    flops = acts * rng.uniform(20, 200, n)
    t = 1e-7 * acts * (1 + 0.05 * rng.standard_normal(n))
    return pd.DataFrame(
        {
            "model_id": [f"m{i}" for i in range(n)],
            "flops": flops,
            "acts": acts,
            "params": rng.uniform(1e6, 1e7, n),
            "infer_ms_per_image": t,
            "train_ms_per_image": 3 * t,
            "time_device": "cpu",
        }
    )


def test_runtime_correlations_equal_scipy_and_rank_acts_first():
    df = _timed_population()
    corr = runtime_correlations(df).set_index("metric")
    for m in ("flops", "acts", "params"):
        assert corr.at[m, "pearson_r"] == pytest.approx(
            np.corrcoef(df[m], df["infer_ms_per_image"])[0, 1]
        )
        assert corr.at[m, "spearman_rho"] == pytest.approx(
            stats.spearmanr(df[m], df["infer_ms_per_image"]).statistic
        )
    assert corr.index[0] == "acts" and corr.at["acts", "pearson_r"] > 0.99
    assert corr.at["flops", "pearson_r"] < corr.at["acts", "pearson_r"]
    with pytest.raises(DsdError, match="dsd time"):
        runtime_correlations(df.drop(columns="infer_ms_per_image"))


def test_published_ratios_at_matched_flops():
    pub = published_figures().set_index("model")
    # The pairs: each EfficientNet and the largest RegNetY with no more published flops.
    regy = pub[pub.index.str.startswith("RegNetY")]
    for eff, reg in MATCHED_PAIRS:
        below = regy[regy["flops_b"] <= pub.at[eff, "flops_b"]]
        assert below["flops_b"].idxmax() == reg
    r = effnet_ratios().set_index("efficientnet")
    # B0: 31 ms / 256 images against RegNetY-400MF's 19 ms / 1024 images; 8.8 h against 5.3 h.
    assert r.at["EfficientNet-B0", "v100_infer_ratio"] == pytest.approx((31 / 256) / (19 / 1024))
    assert r.at["EfficientNet-B5", "v100_train_ratio"] == pytest.approx(122.6 / 29.3)
    assert r["measured_infer_ratio"].isna().all()


def test_compare_models_and_measured_ratios():
    times = pd.DataFrame(
        {
            "model": ["EfficientNet-B0", "RegNetY-400MF", "ResNet-50"],
            "model_id": ["a", "b", "c"],
            "infer_ms_per_image": [6.0, 2.0, 5.0],
            "train_ms_per_image": [30.0, 10.0, 20.0],
        }
    )
    cmp = compare_models(times).set_index("model")
    assert cmp.at["ResNet-50", "top1_err"] == 23.2
    assert cmp.at["ResNet-50", "v100_infer_ms_per_image"] == pytest.approx(57 / 256)
    assert cmp.at["EfficientNet-B0", "infer_ms_per_image"] == 6.0
    r = effnet_ratios(times).set_index("efficientnet")
    assert r.at["EfficientNet-B0", "measured_infer_ratio"] == pytest.approx(3.0)
    assert r.at["EfficientNet-B0", "measured_train_ratio"] == pytest.approx(3.0)
    assert math.isnan(r.at["EfficientNet-B1", "measured_infer_ratio"])


def test_report_gains_a_runtime_section_only_with_timing_columns():
    from analysis_fixtures import synthetic_results

    res = synthetic_results(n=30, failed=0)
    df = res.assign(
        infer_ms_per_image=res["acts"] * 1e-6, train_ms_per_image=res["flops"] * 1e-9
    ).assign(time_device="cpu")
    html = "".join(report_sections(df))
    assert "Runtime against complexity" in html and "<img" in html and "pearson_r" in html
    assert report_sections(res) == []
    assert "Runtime against complexity" in "".join(report_sections(df.drop(columns="acts")))
    page = dsd.analysis.build_report(df, reps=200)
    assert "Runtime against complexity" in page


def test_dsd_runtime_prints_tables_and_writes_a_figure(tmp_path, capsys):
    df = _timed_population(12)
    df.loc[0:1, "model"] = ["EfficientNet-B0", "RegNetY-400MF"]
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    fig = tmp_path / "runtime.png"
    assert main(["runtime", str(path), "--figure", str(fig)]) == 0
    out = capsys.readouterr().out
    assert "pearson_r" in out and "EfficientNet / RegNetY" in out
    assert fig.stat().st_size > 1000
    assert main(["runtime", str(path), "--figure", str(tmp_path / "x.txt")]) == 2
    assert "unsupported extension" in capsys.readouterr().err
    cmp = tmp_path / "cmp.png"
    assert main(["runtime", str(path), "--compare-figure", str(cmp)]) == 0
    assert cmp.stat().st_size > 1000
    unnamed = tmp_path / "u.csv"
    df.drop(columns="model").to_csv(unnamed, index=False)
    assert main(["runtime", str(unnamed), "--compare-figure", str(tmp_path / "c2.png")]) == 2
    captured = capsys.readouterr()
    assert "dsd time NAME" in captured.err and not (tmp_path / "c2.png").exists()


def test_dsd_time_a_sampled_parquet_file_keeps_every_column(tmp_path, capsys):
    samples = dsd.load_space("RegNetY").sample(
        3, seed=0, resolution=16, num_classes=10, flops=(1e6, 3e6)
    )
    path = tmp_path / "s.parquet"
    samples.to_parquet(path, index=False)
    out = tmp_path / "t.json"
    assert main(["time", str(path), "-o", str(out), *FAST]) == 0
    df = pd.read_json(out, orient="records", lines=True)
    assert list(df.columns[: len(samples.columns)]) == list(samples.columns)
    assert list(df["model_id"]) == list(samples["model_id"])
    for row in samples.to_dict(orient="records"):
        t = df[df["model_id"] == row["model_id"]].iloc[0]
        assert t["flops"] == dsd.complexity(dsd.AnyNet.from_dict(row))["flops"]
        assert t["infer_ms"] > 0 and t["train_ms"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_dsd_time_on_cuda_without_cuda_is_refused(tmp_path, capsys):
    out = tmp_path / "t.csv"
    for device in ("cuda", "cuda:0", "cuda:99"):
        assert main(["time", "ResNet-56", "--device", device, "-o", str(out), *FAST]) == 2
        err = capsys.readouterr().err.strip()
        assert f"device '{device}': CUDA is not available on this machine" in err, err
        assert len(err.splitlines()) == 1 and not out.exists()


# --- spread: a researcher on a shared node ------------------------------------------------------


class Clock:
    """A clock that moves only when told (time.perf_counter for the timer, free of machine load)."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    def __deepcopy__(self, memo: dict) -> Clock:
        return self  # time_model times a copy of the model: the copy must move this clock


class Scheduled(nn.Module):
    """A module whose n-th forward takes ``schedule[n]`` milliseconds of ``clock`` (a known spread)."""

    def __init__(self, schedule: list[float], clock: Clock) -> None:
        super().__init__()
        self.schedule, self.calls, self.clock = schedule, 0, clock
        self.fc = nn.Linear(3, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.clock.now += self.schedule[self.calls % len(self.schedule)] / 1e3
        self.calls += 1
        return self.fc(x.mean((2, 3)))


def test_the_spread_is_the_interquartile_range_of_the_repeats(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(timing, "time", clock)
    # call 0 is the probe of the output width; then four timed calls of 20, 40, 60, 80 ms
    model = Scheduled([0, 20, 40, 60, 80], clock)
    t = time_model(model, resolution=4, warmup=0, repeats=4, train=False)
    q1, q3 = np.percentile([20, 40, 60, 80], [25, 75])
    assert t.infer_ms == pytest.approx(50) and t.infer_ms_iqr == pytest.approx(q3 - q1)  # 30 ms
    assert math.isnan(t.train_ms_iqr)
    steady = time_model(Scheduled([20], clock), resolution=4, warmup=1, repeats=5)
    assert steady.infer_ms == pytest.approx(20) and steady.train_ms == pytest.approx(20)
    assert steady.infer_ms_iqr == pytest.approx(0, abs=1e-9)
    assert steady.train_ms_iqr == pytest.approx(0, abs=1e-9)


def test_spread_warning_counts_models_beyond_a_fifth_of_their_median():
    df = pd.DataFrame(
        {
            "model_id": ["a", "b", "b", "c"],
            "infer_ms": [10.0, 10.0, 10.0, 10.0],
            "infer_ms_iqr": [1.0, 5.0, 5.0, 0.5],
            "train_ms": [30.0, 30.0, 30.0, float("nan")],
            "train_ms_iqr": [9.0, 1.0, 1.0, float("nan")],
        }
    )
    assert spread_warning(df) == (
        "times of 2 of 3 model(s) varied by more than 20% between repeats (IQR/median up to 50%): "
        "the machine looks busy; time again on an idle machine, with more --repeats or fewer --threads"
    )
    assert spread_warning(df, limit=0.6) == ""


def test_dsd_time_without_an_output_prints_the_table_and_writes_nothing(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert main(["time", "ResNet-56", "--resolution", "16", *FAST]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[-2:] == ["spread", "%"] and out[1].split()[0] == "ResNet-56"
    assert out[-1] == "timed 1 model(s) on cpu (1 threads)"
    assert list(tmp_path.iterdir()) == []


def test_dsd_time_warns_when_the_machine_looks_busy(tmp_path, capsys, monkeypatch):
    def noisy(net, **options):
        return Timing(10.0, 30.0, 4.0, 3.0, 2, 16, "cpu", 1, False, "fp32", 0, 5)

    monkeypatch.setattr(timing, "time_model", noisy)
    assert main(["time", "ResNet-56", "RegNetX-200MF", *FAST]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        "dsd time: warning: times of 2 of 2 model(s) varied by more than 20% between repeats "
        "(IQR/median up to 40%): the machine looks busy; time again on an idle machine, with "
        "more --repeats or fewer --threads"
    )
    assert "40.0" in captured.out  # the spread column, in percent


def test_repeated_inputs_and_outputs_over_inputs_are_refused(tmp_path, capsys):
    samples = tmp_path / "s.csv"
    _samples_csv(samples)
    link = tmp_path / "same.csv"
    os.link(samples, link)
    before = samples.read_bytes()
    for argv, needle in (
        (["time", str(samples), str(samples)], "given twice; give each input once"),
        (["time", str(samples), str(link)], f"the same file as {samples}"),
        (["time", "ResNet-56", str(samples), "-o", str(link)], "is an input of this command"),
    ):
        assert main([*argv, *FAST]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
    assert samples.read_bytes() == before
    times = tmp_path / "t.csv"
    _timed_population(6).to_csv(times, index=False)
    assert main(["runtime", str(times), str(times)]) == 2
    assert "given twice" in capsys.readouterr().err
    figure = tmp_path / "t.png"
    os.link(times, figure)
    assert main(["runtime", str(times), "--figure", str(figure)]) == 2
    assert "is an input of this command" in capsys.readouterr().err
    assert figure.read_bytes() == times.read_bytes()
