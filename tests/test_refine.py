"""dsd refine: derived constraints in the space format (exact size, conditioning), the candidate
tests against planted effects and null populations, the written space, the CLI."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from dsd.analysis import refinement as rf
from dsd.analysis.candidates import read_candidates
from dsd.analysis.splits import Resamples
from dsd.analysis.stats import ks_models_needed, ks_power
from dsd.cli import main
from dsd.errors import DsdError, SpaceError
from dsd.io import write_table
from dsd.schema import PARAMETERS
from dsd.spaces import Constraints, load_space

FLOPS = (360e6, 400e6)

# --- the space format: ranges and non_increasing ------------------------------------------------

SMALL = """
name: Small
kind: anynet
stages: 3
params:
  depth: {values: [1, 2, 3, 5]}
  width: {values: [8, 16, 24]}
  bottleneck_ratio: {values: [1, 2]}
  group_width: {values: [1, 2, 4]}
constraints:
%s
"""


def _space(tmp_path, constraints: str, name: str = "small.yaml"):
    p = tmp_path / name
    p.write_text(SMALL % constraints)
    return load_space(p)


def _brute_force(space) -> int:
    """Count the configurations of a small anynet space by enumerating them all (vectorised)."""
    s = space.stages
    seqs = {
        k: np.array(list(itertools.product(p.grid(), repeat=s)))
        for k, p in space.parameters.items()
    }
    names = list(space.parameters)
    idx = np.indices([len(seqs[k]) for k in names]).reshape(len(names), -1)
    design = {PARAMETERS[k][1]: seqs[k][i] for k, i in zip(names, idx, strict=True)}
    c = space.constraints
    ok = space.satisfies(design, Constraints(non_increasing=c.non_increasing, ranges=c.ranges))
    for k in space.constraints.shared:
        a = design[PARAMETERS[k][1]]
        ok &= np.all(a == a[:, :1], axis=1)
    for k in space.constraints.non_decreasing:
        ok &= np.all(np.diff(design[PARAMETERS[k][1]], axis=1) >= 0, axis=1)
    return int(ok.sum())


@pytest.mark.parametrize(
    "constraints",
    [
        "  ranges: {d: [null, 6]}",
        "  ranges: {d: [5, 9], w2: [16, null]}",
        "  non_increasing: [depth]\n  ranges: {d: [4, null], width: [null, 16]}",
        "  shared: [group_width]\n  non_decreasing: [width]\n  ranges: {g1: [2, null], d3: [2, 3]}",
        "  shared: [depth]\n  ranges: {d: [null, 6]}",
        "  non_decreasing: [depth]\n  non_increasing: [width]\n  ranges: {d: [3, 8], b2: [2, 2]}",
    ],
)
def test_exact_size_with_derived_constraints_matches_enumeration(tmp_path, constraints):
    space = _space(tmp_path, constraints)
    assert space.size == _brute_force(space)


def test_size_of_built_in_spaces_is_unchanged_by_the_derived_counter():
    # The dynamic programme agrees with the closed forms when no derived constraint is present.
    for name in ("AnyNetXA", "AnyNetXB", "AnyNetXD", "AnyNetXE", "RegNetX"):
        s = load_space(name)
        assert _closed_form(s) == s.size


def _closed_form(space) -> int:
    """A space's size without ranges: m (shared), C(m + S - 1, S) (non-decreasing) or m**S values
    a parameter (RegNet: m), multiplied."""
    total = 1
    for k, p in space.parameters.items():
        m, rule = p.count(), space.constraints.rule(k)
        if space.kind == "regnet" or rule == "shared":
            total *= m
        elif rule == "non_decreasing":
            total *= math.comb(m + space.stages - 1, space.stages)
        else:
            total *= m**space.stages
    return total


def test_regnet_ranges_restrict_the_grids(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("extends: RegNetX\nconstraints:\n  ranges: {d: [null, 20], wm: [2.5, null]}\n")
    s, x = load_space(p), load_space("RegNetX")
    # d in 12..20 (9 of 17 values); wm in 2.5..3.0 step 0.001 (501 of 1001 values)
    assert s.size == x.size // (17 * 1001) * 9 * 501
    df = s.sample(40, flops=(200e6, 800e6), seed=0)
    assert df["depth"].le(20).all() and df["wm"].ge(2.5).all()


def test_sampling_conditions_the_parent_on_the_range():
    # A refined space is its parent restricted to the models that satisfy the constraint: the
    # total depth of samples with d <= 10 has the law of the parent's samples filtered by d <= 10.
    parent = load_space("AnyNetXC")
    child = parent.with_constraints({"ranges": {"d": [None, 10]}})
    a = child.sample(600, flops=FLOPS, seed=1)
    b = parent.sample(3000, flops=FLOPS, seed=2)
    da = np.array(a["depths"].tolist()).sum(1)
    db = np.array(b["depths"].tolist()).sum(1)
    assert da.max() <= 10
    assert stats.ks_2samp(da, db[db <= 10]).pvalue > 0.001


def test_sampled_non_increasing_rows_are_non_increasing(tmp_path):
    p = tmp_path / "ni.yaml"
    p.write_text("extends: AnyNetXA\nconstraints:\n  non_increasing: [depth]\n")
    df = load_space(p).sample(50, flops=FLOPS, seed=0)
    d = np.array(df["depths"].tolist())
    assert np.all(np.diff(d, axis=1) <= 0)


@pytest.mark.parametrize(
    ("constraints", "message"),
    [
        ("  ranges: {e_fat: [null, 1]}", "unknown quantity 'e_fat'"),
        ("  ranges: {d: [9, 3]}", "reversed range"),
        ("  ranges: {d: 3}", "expected [low, high]"),
        ("  ranges: {d: [null, null]}", "expected [low, high]"),
        ("  ranges: [d]", "expected a mapping"),
        ("  ranges: {w4: [8, null]}", "unknown quantity 'w4'"),
        ("  non_increasing: [depth]\n  non_decreasing: [depth]", "both non_increasing"),
        ("  non_increasing: [stem]", "'stem' not allowed"),
        ("  ranges: {d: [20, null]}", "no configuration satisfies them"),
    ],
)
def test_bad_derived_constraints_are_refused_with_one_line(tmp_path, constraints, message):
    with pytest.raises(SpaceError, match=message.replace("[", r"\[")) as e:
        _space(tmp_path, constraints)
    assert "small.yaml" in str(e.value) and "\n" not in str(e.value)


def test_a_child_narrows_its_parents_ranges(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "extends: AnyNetXA\nconstraints:\n  ranges: {d: [4, 30], w1: [null, 64]}\n"
    )
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nconstraints:\n  ranges: {d: [2, 20]}\n")
    s = load_space(tmp_path / "b.yaml")
    assert s.constraints.ranges == (("d", 4.0, 20.0), ("w1", None, 64.0))
    assert "d" in s.describe() and "4 <= d <= 20" in s.describe()


# --- candidates and their tests -----------------------------------------------------------------


def _population(space: str, n: int, seed: int, effect=None, sd: float = 0.03) -> pd.DataFrame:
    df = load_space(space).sample(n, flops=FLOPS, seed=seed)
    rng = np.random.default_rng(1000 + seed)
    base = 0.5 + rng.normal(0, sd, len(df))
    df["top1_err"] = base + (0 if effect is None else effect(df))
    df["status"] = "ok"
    return df


def _nondecreasing_widths(df) -> np.ndarray:
    return np.all(np.diff(np.array(df["widths"].tolist()), axis=1) >= 0, axis=1)


@pytest.fixture(scope="module")
def planted():
    """600 AnyNetXA models, error 0.08 higher unless widths are non-decreasing, noise sd 0.03."""
    df = _population("AnyNetXA", 600, 0, lambda d: 0.08 * ~_nondecreasing_widths(d))
    return df, rf.refine(df, "AnyNetXA")


def test_planted_effect_is_found_first(planted):
    df, table = planted
    top = table.iloc[0]
    assert top["candidate"] == "non-decreasing widths"
    assert top["verdict"] == "improves"
    assert top["n_in"] == int(_nondecreasing_widths(df).sum())
    assert top["ci_low"] < -0.05 < top["ci_high"] + 0.05 and top["ci_high"] < 0
    # exact share of the space: multisets of 4 of the 128 widths over 128^4 sequences
    assert top["share_space"] == pytest.approx(math.comb(131, 4) / 128**4, rel=1e-12)
    # the planted effect does not make the control look good
    ctrl = table.set_index("candidate").loc["non-increasing widths"]
    assert ctrl["verdict"] != "improves"
    assert table.attrs["correction"] == "Benjamini-Hochberg"


def test_written_space_samples_only_the_refinement(planted, tmp_path):
    _, table = planted
    out = rf.write_refined_space(table, "AnyNetXA", tmp_path / "next.yaml")
    text = out.read_text()
    data = yaml.safe_load(text)  # written by dsd.spaces.write_space (the YAML library)
    assert data["extends"] == "AnyNetXA" and "width" in data["constraints"]["non_decreasing"]
    assert "# non-decreasing widths: improves" in text
    s = load_space(out)
    assert s.parent == "AnyNetXA" and "width" in s.constraints.non_decreasing
    nxt = s.sample(200, flops=FLOPS, seed=3)
    assert _nondecreasing_widths(nxt).all()


def test_statistics_agree_with_scipy_and_numpy_without_normalisation(planted):
    df, _ = planted
    table = rf.refine(df, "AnyNetXA", bins=1)
    r = table.iloc[0]
    nd = _nondecreasing_widths(df)
    e = df["top1_err"].to_numpy()
    assert r["bins"] == 1
    assert r["D"] == pytest.approx(stats.ks_2samp(e[nd], e[~nd]).statistic)
    assert r["p"] == pytest.approx(stats.ks_2samp(e[nd], e[~nd]).pvalue)
    q = np.quantile(e[nd], 0.25, method="inverted_cdf") - np.quantile(
        e[~nd], 0.25, method="inverted_cdf"
    )
    assert r["diff"] == pytest.approx(q)
    ok = table["p"].notna()
    adj = stats.false_discovery_control(table.loc[ok, "p"], method="bh")
    assert np.allclose(table.loc[ok, "p_adj"], adj)


def test_null_populations_rarely_give_an_improvement():
    # Error independent of the design, ~100 candidates each: the Benjamini-Hochberg adjusted test
    # (with the interval) calls something "improves" in at most 1 of 10 populations, while the
    # raw p-values would have flagged candidates in most of them (the many-candidates problem).
    any_improves, any_hurts, any_raw = 0, 0, 0
    for seed in range(10):
        table = rf.refine(_population("AnyNetXA", 400, seed), "AnyNetXA", reps=300, seed=seed)
        assert table.attrs["tests"] > 80
        any_improves += bool((table["verdict"] == "improves").any())
        any_hurts += bool((table["verdict"] == "hurts").any())
        any_raw += bool((table["p"] < 0.05).any())
    assert any_improves <= 1 and any_hurts <= 1
    assert any_raw >= 5


def test_ks_sample_size_gives_the_stated_power():
    # Normal populations shifted by delta: population KS distance D = 2 Phi(delta / 2) - 1.
    rng = np.random.default_rng(0)
    delta = 0.5
    d = 2 * stats.norm.cdf(delta / 2) - 1
    n = ks_models_needed(d, alpha=0.05, power=0.8)  # two populations of n each have m = n / 2

    def power(size: int) -> float:
        hits = [
            stats.ks_2samp(rng.normal(0, 1, size), rng.normal(delta, 1, size)).pvalue < 0.05
            for _ in range(300)
        ]
        return float(np.mean(hits))

    assert power(n) >= 0.75
    assert power(n // 3) < 0.8  # and not wildly conservative
    m = ((stats.kstwobign.isf(0.05) + stats.norm.ppf(0.8) / 2) / d) ** 2
    assert ks_power(2 * m, 2 * m, d) == pytest.approx(0.8)  # d is what m resolves


def test_regnet_range_candidates(tmp_path):
    df = _population("RegNetX", 300, 0, lambda d: 0.06 * (d["wm"] > 2.5))
    table = rf.refine(df, "RegNetX")
    top = table.iloc[0]
    assert top["verdict"] == "improves"
    c = json.loads(top["constraints"])
    assert list(c) == ["ranges"] and list(c["ranges"]) == ["wm"]
    assert c["ranges"]["wm"][0] is None and c["ranges"]["wm"][1] <= 2.6  # a quantile near 2.5
    out = rf.write_refined_space(table, "RegNetX", tmp_path / "rx.yaml", only_improving=True)
    nxt = load_space(out).sample(50, flops=FLOPS, seed=1)
    assert nxt["wm"].le(c["ranges"]["wm"][1]).all()


def test_user_candidates_from_yaml(tmp_path):
    df = _population(
        "AnyNetXC", 300, 0, lambda d: -0.05 * (np.array(d["depths"].tolist()).sum(1) <= 8)
    )
    f = tmp_path / "c.yaml"
    f.write_text(
        "candidates:\n  - {name: shallow, ranges: {d: [null, 8]}}\n  - {non_increasing: [width]}\n"
    )
    space = load_space("AnyNetXC")
    cands = read_candidates(f, space)
    table = rf.refine(df, space, candidates=cands)
    assert table.iloc[0]["candidate"] == "shallow" and table.iloc[0]["verdict"] == "improves"
    assert len(table) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("candidates:\n  - {ranges: {depthz: [1, 2]}}\n")
    with pytest.raises(SpaceError, match="unknown quantity 'depthz'"):
        read_candidates(bad, space)


def test_bad_population_input_is_refused():
    df = _population("AnyNetXA", 50, 0)
    with pytest.raises(DsdError, match=r"missing column\(s\) top1_err_min"):
        rf.refine(df, "AnyNetXA", metric="top1_err_min")
    with pytest.raises(DsdError, match="no rows of space 'AnyNetXC'"):
        two = pd.concat([df, df.assign(space="RegNet")])
        rf.refine(two, "AnyNetXC")


# --- command line -------------------------------------------------------------------------------


def test_cli_refine_writes_space_table_and_report(planted, tmp_path, capsys):
    df, _ = planted
    res = tmp_path / "results.parquet"
    write_table(df, res)
    out, rep = tmp_path / "next.yaml", tmp_path / "refine.html"
    rc = main(["refine", str(res), "--space", "AnyNetXA", "-o", str(out), "--report", str(rep)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "non-decreasing widths" in text.splitlines()[3] and "improves" in text
    assert "models per population" in text and "refined space ->" in text
    assert "width" in load_space(out).constraints.non_decreasing
    page = rep.read_text()
    assert "Refinement candidates: AnyNetXA" in page and page.count("<img") == 3
    assert main(["spaces", str(out)]) == 0
    assert "non-decreasing width" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--space", "AnyNetXQ"], "no space named 'AnyNetXQ'"),
        (["--space", "AnyNetXA", "-o", "x.txt"], "unsupported extension '.txt'"),
        (["--space", "AnyNetXA", "--alpha", "2"], "--alpha must be below 1"),
        (["--space", "AnyNetXA", "--metric", "nope"], "missing column(s) nope"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(planted, tmp_path, capsys, args, message):
    df, _ = planted
    res = tmp_path / "results.parquet"
    write_table(df.head(60), res)
    rc = main(["refine", str(res), *[a if a != "x.txt" else str(tmp_path / a) for a in args]])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.txt").exists()


def test_dsd_report_gains_a_refinement_section(planted, tmp_path, capsys):
    df, _ = planted
    res = tmp_path / "results.parquet"
    write_table(df, res)
    out = tmp_path / "report.html"
    assert main(["report", str(res), "--refine", "AnyNetXA", "-o", str(out)]) == 0
    page = out.read_text()
    assert "Refinement candidates: AnyNetXA" in page and "non-decreasing widths" in page
    assert "Benjamini-Hochberg" in page and "models per population" in page


def test_the_populations_regime_sets_the_normalisation_range(planted):
    df, _ = planted
    regime = json.dumps({"flops": [350e6, 410e6]})
    table = rf.refine(df.assign(regime=regime), "AnyNetXA", reps=100)
    assert table.attrs["regime"] == [350e6, 410e6]
    assert table.attrs["regime_source"] == "regime column"
    assert rf.refine(df, "AnyNetXA", reps=100).attrs["regime"] == [360e6, 400e6]  # as sampled
    plain = rf.refine(df.drop(columns="regime"), "AnyNetXA", reps=100)
    assert plain.attrs["regime"] == [df["flops"].min(), df["flops"].max()]
    assert plain.attrs["regime_source"] == "population min..max"


def test_bootstrap_quantiles_equal_the_edf_quantile_of_each_resample():
    # Each resample's weighted 25th percentile, computed by the shared-resample shortcut, equals
    # the inverse EDF of the models that resample holds (with their copies and weights).
    from dsd.analysis.stats import edf

    rng = np.random.default_rng(0)
    e = rng.normal(0.5, 0.05, 120)
    side = rng.random(120) < 0.3
    w = rng.uniform(0.5, 2.0, int(side.sum()))
    boot = Resamples.draw(e, 50, rng)
    got = boot.quantile(e, side, w, 0.25)
    wfull = np.zeros(120)
    wfull[side] = w
    for r in range(50):
        copies = np.zeros(120)
        copies[boot.order] = boot.counts[r]
        keep = side & (copies > 0)
        want = edf(e[keep], (copies * wfull)[keep]).quantile(0.25) if keep.any() else np.nan
        assert got[r] == want or (np.isnan(want) and np.isnan(got[r]))


def test_a_planted_harm_is_judged_hurts():
    df = _population("AnyNetXA", 600, 0, lambda d: 0.08 * _nondecreasing_widths(d))
    table = rf.refine(df, "AnyNetXA", reps=300).set_index("candidate")
    assert table.loc["non-decreasing widths", "verdict"] == "hurts"
    assert table.loc["non-decreasing widths", "ci_low"] > 0
    assert table["verdict"].iloc[-1] == "hurts"  # hurts sort last


def test_the_next_space_takes_the_best_improvement_and_compatible_simplifications():
    def row(name, verdict, kind, c):
        return {"candidate": name, "verdict": verdict, "kind": kind, "constraints": json.dumps(c)}

    table = pd.DataFrame(
        [
            row("d <= 20", "improves", "range", {"ranges": {"d": [None, 20]}}),
            row("w1 <= 64", "improves", "range", {"ranges": {"w1": [None, 64]}}),
            row("shared b", "no loss", "shared", {"shared": ["bottleneck_ratio"]}),
            row(
                "non-decreasing b",
                "no loss",
                "non_decreasing",
                {"non_decreasing": ["bottleneck_ratio"]},
            ),
            row(
                "non-decreasing g", "no loss", "non_decreasing", {"non_decreasing": ["group_width"]}
            ),
            row("d1 <= 3", "no loss", "range", {"ranges": {"d1": [None, 3]}}),
            row("non-increasing d", "no loss", "non_increasing", {"non_increasing": ["depth"]}),
            row("shared g", "inconclusive", "shared", {"shared": ["group_width"]}),
        ]
    )
    picks = list(rf.chosen(table)["candidate"])
    # the best improvement only; structural no-loss simplifications, the first one per parameter
    assert picks == ["d <= 20", "shared b", "non-decreasing g"]
    assert list(rf.chosen(table, only_improving=True)["candidate"]) == ["d <= 20"]


def test_a_value_listed_twice_counts_once_with_or_without_ranges(tmp_path):
    """Space.size and the derived-constraint count agree (a share of the space is never > 1)."""
    base = tmp_path / "dup.yaml"
    base.write_text(
        "name: Dup\nextends: AnyNetXA\nparams:\n  bottleneck_ratio: {values: [1, 1, 2]}\n"
    )
    child = tmp_path / "dup_range.yaml"
    child.write_text(
        f"name: DupR\nextends: {base}\nconstraints: {{ranges: {{w1: [null, 1024]}}}}\n"
    )
    assert load_space(child).size == load_space(base).size
