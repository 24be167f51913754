"""``dsd design``: the two-sample statistics, the planted-effect world, the replay and the discovery
(found and confirmed in a planted world; no false "improves" in a null world), in-process with the
fake trainer and inline training."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from design_fixtures import experiment, fast_options

from dsd.analysis.candidates import Candidate
from dsd.analysis.splits import Resamples, Sample, Split, measure_samples, measure_split
from dsd.design import PAPER, discover_chain, replay_chain
from dsd.design.compare import share_kept
from dsd.spaces import Constraints, load_space
from dsd.sweep import RunFolder, SweepOptions, run_sweep
from dsd.sweep.testing import FakeTrainer, InlineExecutor, Planted, fake_error, fake_samples

STATS = ("n_in", "n_out", "D", "D_whole", "p", "stat_in", "stat_out", "diff", "bins", "m_eff")


def _two(seed=0, n=(60, 80), shift=0.03):
    rng = np.random.default_rng(seed)
    child = (rng.normal(0.5 - shift, 0.05, n[0]), rng.uniform(1e6, 2e6, n[0]))
    parent = (rng.normal(0.5, 0.05, n[1]), rng.uniform(1e6, 2e6, n[1]))
    return child, parent


def test_measure_samples_is_measure_split_on_the_two_populations_but_the_bootstrap():
    child, parent = _two()
    got = measure_samples(child, parent, (1e6, 2e6), bins=5, reps=300, seed=1)
    errors, flops = np.concatenate([child[0], parent[0]]), np.concatenate([child[1], parent[1]])
    inside = np.arange(errors.size) < child[0].size
    split = Split(inside, (Candidate("child", "population", Constraints()),))
    _, want = measure_split(split, Sample.of(errors, flops, (1e6, 2e6), 5, 300, 1))
    for k in STATS:
        assert got[k] == pytest.approx(want[k]), k


def test_each_population_is_resampled_within_itself():
    strata = np.repeat([True, False], [7, 13])
    r = Resamples.draw(np.arange(20.0), 50, np.random.default_rng(0), strata)
    counts = r.counts[:, np.argsort(r.order)]  # back to the models' order
    assert (counts[:, :7].sum(axis=1) == 7).all() and (counts[:, 7:].sum(axis=1) == 13).all()


def test_the_interval_is_the_independent_bootstrap_of_the_q25_difference():
    child, parent = _two(seed=3, n=(200, 200))
    got = measure_samples(child, parent, (1e6, 2e6), bins=1, reps=2000, seed=0)
    rng = np.random.default_rng(7)  # an independent bootstrap, written out with numpy
    diffs = [
        np.quantile(rng.choice(child[0], child[0].size), 0.25, method="inverted_cdf")
        - np.quantile(rng.choice(parent[0], parent[0].size), 0.25, method="inverted_cdf")
        for _ in range(2000)
    ]
    assert got["se"] == pytest.approx(np.std(diffs), rel=0.15)
    assert got["ci_low"] < got["diff"] < got["ci_high"] < 0  # a real shift of -0.03


def test_the_planted_world_adds_its_penalty_unless_the_lists_are_non_decreasing():
    world = Planted(penalty=0.08, noise=0.0, base=0.5)
    assert world.error({"model_id": "a", "widths": [8, 16, 16, 32]}, 0) == pytest.approx(0.5)
    assert world.error({"model_id": "a", "widths": [16, 8, 16, 32]}, 0) == pytest.approx(0.58)
    noisy = [Planted().error({"model_id": str(i), "widths": [1, 2]}, 0) for i in range(4000)]
    assert np.mean(noisy) == pytest.approx(0.5, abs=0.003)
    assert np.std(noisy) == pytest.approx(0.03, rel=0.05)


def test_inline_training_gives_the_fake_errors(tmp_path):
    options = SweepOptions(trainer=FakeTrainer(), engine=InlineExecutor(), progress=False)
    samples = fake_samples(6)
    summary = run_sweep(samples, tmp_path / "run", options)
    df = pd.read_parquet(summary.results)
    assert summary.counts == {"ok": len(samples)}
    assert df["top1_err"].tolist() == [fake_error(m) for m in df["model_id"]]


def test_share_kept_is_exact_for_a_subset_and_a_ratio_otherwise():
    xd, xe, rx = load_space("AnyNetXD"), load_space("AnyNetXE"), load_space("RegNetX")
    assert share_kept(xe, xd) == (True, xe.size / xd.size)
    assert share_kept(rx, xe) == (False, rx.size / xe.size)


def test_replay_judges_each_step_and_writes_the_chain_and_the_report(tmp_path):
    out = tmp_path / "chain"
    chain = ["AnyNetXA", "AnyNetXC", "AnyNetXD"]
    s = replay_chain(experiment(40), chain, out, fast_options(report=True))
    table = pd.read_csv(out / "chain.csv")
    assert table["child"].tolist() == ["AnyNetXC", "AnyNetXD"]
    assert table.loc[1, "verdict"] == "improves"  # the planted effect: widths non-decreasing
    assert table.loc[1, "paper_verdict"] == PAPER[("AnyNetXC", "AnyNetXD")][0] == "improves"
    xc, xd = load_space("AnyNetXC"), load_space("AnyNetXD")
    assert table.loc[1, "share_space"] == pytest.approx(xd.size / xc.size)
    assert table["n_parent"].tolist() == [40, 40] and bool(table.loc[1, "subset"])
    html = (out / "report.html").read_text()
    assert html.index("The chain, step by step") < html.index("Summary")
    assert html.count("<img") >= 2 and "improves the EDF substantially" in html
    assert [RunFolder(out / n).results.exists() for n in chain] == [True] * 3
    assert s.report == out / "report.html"


def test_discovery_finds_and_confirms_the_planted_effect(tmp_path):
    out = tmp_path / "found"
    s = discover_chain(experiment(100), "AnyNetXA", out, fast_options(steps=1, tries=3))
    row = s.chain.iloc[0]
    assert row["verdict"] == "improves" and row["candidate"] == "non-decreasing widths"
    child = load_space(out / "spaces" / f"{row['child']}.yaml")  # an ordinary space file
    assert child.constraints.to_yaml_dict()["non_decreasing"] == ["width"]
    assert share_kept(child, load_space("AnyNetXA"))[0]
    rows = pd.read_parquet(out / row["child"] / "results.parquet")
    assert all(np.all(np.diff(w) >= 0) for w in rows["widths"])
    step = json.loads((out / "steps" / "1.json").read_text())
    assert step["tries"][-1] == {"space": row["child"], "verdict": "improves", "accepted": True}


def test_a_null_world_accepts_no_improvement_in_19_of_20_seeds(tmp_path):
    """Errors independent of the design; a permissive exploration (alpha 0.5) proposes many
    candidates, and each fresh confirmation must keep the false ones out."""
    improved, confirmations = 0, 0
    for seed in range(20):
        o = fast_options(Planted(penalty=0.0), steps=2, tries=2, explore_alpha=0.5)
        s = discover_chain(experiment(50, seed), "AnyNetXA", tmp_path / str(seed), o)
        improved += "improves" in set(s.chain["verdict"])
        confirmations += sum(1 for p in (tmp_path / str(seed) / "spaces").glob("*.yaml"))
    assert confirmations >= 5  # the guard was exercised
    assert improved <= 1


def test_a_second_run_trains_nothing_and_decides_the_same(tmp_path):
    out, trace = tmp_path / "d", tmp_path / "trace"
    first = discover_chain(experiment(100), "AnyNetXA", out, fast_options(trace=str(trace)))
    lines = trace.read_text().count("start")
    again = discover_chain(experiment(100), "AnyNetXA", out, fast_options(trace=str(trace)))
    assert trace.read_text().count("start") == lines
    pd.testing.assert_frame_equal(first.chain, again.chain)
