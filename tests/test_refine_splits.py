"""dsd refine's statistics: one split is one test, "no loss" is a multiplicity-controlled
non-inferiority verdict, an effect that only follows a stronger one is marked as explained by
it, and the error rates on tables whose truth is known (planted effect, null, planted loss).

Populations come from the real sampler (AnyNetXA, 360-400MF) with a made-up error
``0.5 + N(0, 0.03)`` plus a planted effect; the seeds are fixed. The full measurement (more
tables) is ``benchmarks/refine_rates.py``; its numbers are in docs/POPULATIONS.md.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dsd.analysis import Candidate, refine
from dsd.analysis.candidates import design_arrays
from dsd.analysis.splits import group_splits
from dsd.spaces import Constraints, load_space

FLOPS = (360e6, 400e6)


def _population(n: int, seed: int, effect=None, space: str = "AnyNetXA") -> pd.DataFrame:
    df = load_space(space).sample(n, flops=FLOPS, seed=seed)
    rng = np.random.default_rng(1000 + seed)
    df["top1_err"] = 0.5 + rng.normal(0, 0.03, len(df)) + (0 if effect is None else effect(df))
    df["status"] = "ok"
    return df


def _ordered(df: pd.DataFrame, column: str) -> np.ndarray:
    return np.all(np.diff(np.array(df[column].tolist()), axis=1) >= 0, axis=1)


def _stage(df: pd.DataFrame, column: str, i: int) -> np.ndarray:
    return np.array(df[column].tolist())[:, i]


def _range(name: str, q: str, low, high) -> Candidate:
    return Candidate(name, "user", Constraints(ranges=((q, low, high),)))


# --- one split, one test ------------------------------------------------------------------------


def test_complementary_and_equal_candidates_are_one_split_tested_once():
    # b1 <= 1 and b1 >= 2 cut the population the same way (b1 is 1, 2 or 4): one test, named
    # by its better side, counted once by Benjamini-Hochberg; d <= 10 and d <= 10.5 are equal.
    df = _population(300, 0, lambda d: -0.03 * (_stage(d, "bottleneck_ratios", 0) >= 2))
    cands = [
        _range("b1 <= 1", "b1", None, 1.0),
        _range("b1 >= 2", "b1", 2.0, None),
        _range("d <= 10", "d", None, 10.0),
        _range("d <= 10.5", "d", None, 10.5),
        _range("d >= 12", "d", 12.0, None),
    ]
    table = refine(df, "AnyNetXA", candidates=cands, bins=1, reps=200)
    assert len(table) == 3 and table.attrs["merged"] == 2 and table.attrs["tests"] == 3
    row = table.set_index("candidate").loc["b1 >= 2"]  # the better side names the split
    assert row["verdict"] == "improves" and row["diff"] < 0
    assert row["merged"] == "complement: b1 <= 1"
    b = _stage(df, "bottleneck_ratios", 0) >= 2
    e = df["top1_err"].to_numpy()
    assert row["p"] == pytest.approx(stats.ks_2samp(e[b], e[~b]).pvalue)
    assert row["n_in"] == b.sum()
    d = table.set_index("candidate").loc["d <= 10"]
    assert d["merged"] == "same split: d <= 10.5"
    # adjusted over the 3 splits (not the 5 candidates)
    assert np.allclose(table["p_adj"], stats.false_discovery_control(table["p"], method="bh"))


def test_the_summary_adds_up():
    table = refine(_population(300, 1), "AnyNetXA", reps=200)
    a = table.attrs
    assert a["candidates"] == len(table) + a["merged"] + a["left_out"]
    assert a["merged"] >= 10  # the default quartile ranges of a discrete quantity meet
    counts = table["verdict"].value_counts()
    assert counts.sum() == len(table) and a["tests"] == table["p"].notna().sum()
    assert table["merged"].str.contains("complement").sum() >= 3


def test_group_splits_keeps_untestable_candidates_and_leaves_out_trivial_ranges():
    rng = np.random.default_rng(0)
    a = rng.random(20) < 0.5
    none = np.zeros(20, bool)
    cands = [Candidate(n, k, Constraints()) for n, k in [("a", "user"), ("not a", "user")]]
    cands += [Candidate("all", "range", Constraints()), Candidate("x", "shared", Constraints())]
    cands += [Candidate("y", "shared", Constraints())]
    splits, left_out = group_splits(cands, [a, ~a, ~none, none, none])
    assert left_out == 1  # the range that holds every model
    assert [s.candidate.name for s in splits] == ["a", "x", "y"]  # x, y: untestable, not merged
    assert [c.name for c in splits[0].complements] == ["not a"]


# --- no loss: a non-inferiority test with Benjamini-Hochberg ------------------------------------


def test_no_loss_is_the_adjusted_non_inferiority_test():
    table = refine(_population(400, 2), "AnyNetXA", reps=300)
    t = table[table["p"].notna()]
    tol = table.attrs["tolerance"]
    z = (t["diff"] - tol) / t["se"]
    assert np.allclose(t["p_noloss"], stats.norm.cdf(z))
    assert np.allclose(t["p_noloss_adj"], stats.false_discovery_control(t["p_noloss"], method="bh"))
    enough = (t["n_in"] >= 10) & (t["n_out"] >= 10)
    plain = ~t["verdict"].isin(["improves", "hurts"])
    want = enough & plain & (t["p_noloss_adj"] < 0.05)
    assert ((t["verdict"] == "no loss") == want).all()
    assert want.sum() > 10  # on a null table most splits are the same within 1%


def test_a_planted_loss_is_not_called_no_loss():
    # Non-decreasing depths make the error 0.015 worse (1.5x the tolerance): in 10 tables the
    # candidate is never called "no loss" (the test's level is 5%).
    called = 0
    for seed in range(10):
        df = _population(400, seed, lambda d: 0.015 * _ordered(d, "depths"))
        table = refine(df, "AnyNetXA", reps=300, seed=seed).set_index("candidate")
        called += table.loc["non-decreasing depths", "verdict"] == "no loss"
    assert called == 0


# --- explained by a stronger candidate ----------------------------------------------------------


@pytest.fixture(scope="module")
def cause_and_correlate():
    """600 models, error +0.08 unless widths are non-decreasing; a user candidate w4 >= 512
    (non-decreasing widths end wide, so it correlates with the cause)."""
    df = _population(600, 0, lambda d: 0.08 * ~_ordered(d, "widths"))
    extra = [_range("wide last stage", "w4", 512.0, None)]
    return df, refine(df, "AnyNetXA", extra=extra, reps=300)


def test_a_correlate_is_explained_by_the_cause(cause_and_correlate):
    df, table = cause_and_correlate
    t = table.set_index("candidate")
    assert table.iloc[0]["candidate"] == "non-decreasing widths"
    assert t.loc["non-decreasing widths", "explained_by"] == ""
    # alone, the correlate looks like an improvement ...
    wide = _stage(df, "widths", 3) >= 512
    e = df["top1_err"].to_numpy()
    assert stats.ks_2samp(e[wide], e[~wide]).pvalue < 0.01
    assert t.loc["wide last stage", "verdict"] == "improves"
    # ... but within each side of the cause it makes no difference
    assert t.loc["wide last stage", "explained_by"] == "non-decreasing widths"
    nd = _ordered(df, "widths")
    side = ~nd  # the side with enough models on both sides of the correlate
    assert stats.ks_2samp(e[side & wide], e[side & ~wide]).pvalue > 0.05
    explained = table[table["explained_by"] != ""]
    assert (explained["verdict"] == "improves").all()


def test_explained_candidates_are_not_written(cause_and_correlate, tmp_path):
    from dsd.analysis.refinement import chosen

    _, table = cause_and_correlate
    # even listed first, an explained improvement is not the one written
    first = table["candidate"] == "wide last stage"
    reordered = pd.concat([table[first], table[~first]]).reset_index(drop=True)
    assert list(chosen(reordered, only_improving=True)["candidate"]) == ["non-decreasing widths"]


def test_two_independent_causes_are_both_kept():
    def effect(d):
        depth = np.array(d["depths"].tolist()).sum(1)
        return 0.06 * ~_ordered(d, "widths") + 0.04 * (depth > 20)

    df = _population(600, 3, effect)
    table = refine(df, "AnyNetXA", reps=300)
    imp = table[(table["verdict"] == "improves") & (table["explained_by"] == "")]
    names = set(imp["candidate"])
    assert "non-decreasing widths" in names
    ranges = [json.loads(c).get("ranges", {}) for c in imp["constraints"]]
    depth_bounds = [r["d"] for r in ranges if "d" in r]
    assert any(high is not None and high <= 25 for _, high in depth_bounds), list(imp["candidate"])


# --- error rates on tables whose truth is known (the fast version) ------------------------------


def test_null_tables_rarely_give_any_improves():
    # 20 tables whose error is independent of the design: Benjamini-Hochberg at 5% over ~90
    # splits gives a table with any "improves" at most alpha of the time (all nulls are true).
    any_improves = 0
    for seed in range(20):
        table = refine(_population(300, 100 + seed), "AnyNetXA", reps=200, seed=seed)
        any_improves += bool((table["verdict"] == "improves").any())
    assert any_improves <= 1


def test_design_arrays_are_those_of_the_rows():
    df = _population(30, 4)
    space = load_space("AnyNetXA")
    design = design_arrays(df, space)
    assert design["widths"].tolist() == df["widths"].tolist()
    assert np.array_equal(space.quantity("d", design), np.array(df["depths"].tolist()).sum(1))
