"""Loading, filtering and derived parameters of results tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import synthetic_results

from dsd.analysis import derived_params, load_results
from dsd.analysis.data import groups, param_values, regime_range
from dsd.errors import DataError, DsdError
from dsd.io import write_table


def test_derived_params_closed_form():
    df = pd.DataFrame(
        {
            "depths": [[1, 2, 7, 12]],
            "widths": [[32, 64, 160, 384]],
            "bottleneck_ratios": [[1, 1, 2, 1]],
            "group_widths": [[16, 16, 16, 16]],
            "flops": [397_678_568],
            "w0": [24],
        }
    )
    d = derived_params(df).iloc[0]
    assert d["d"] == 22 and (d["d1"], d["d4"]) == (1, 12)
    assert (d["w1"], d["w4"]) == (32, 384)
    assert d["w_ratio1"] == 2 and d["w_ratio2"] == 2.5 and d["w_ratio3"] == 2.4
    assert d["b3"] == 2 and d["g1"] == 16
    assert "b" not in d and "g" not in d  # no shared columns: nothing shared to report
    assert d["flops"] == 397_678_568 and d["w0"] == 24


def test_shared_b_and_g_are_the_drawn_values_and_exist_only_where_shared():
    # an AnyNetXC row drawn with g = 16 whose built stage 1 has g = 8 (the compatibility rule);
    # AnyNetXB shares b only, AnyNetXA nothing (NaN when the files are concatenated)
    df = pd.DataFrame(
        {
            "space": ["AnyNetXC", "AnyNetXB", "AnyNetXA"],
            "depths": [[1, 2, 3, 4]] * 3,
            "widths": [[8, 64, 128, 256]] * 3,
            "bottleneck_ratios": [[1, 1, 1, 1], [2, 2, 2, 2], [1, 4, 2, 1]],
            "group_widths": [[16, 16, 16, 16], [1, 8, 4, 2], [32, 1, 2, 16]],
            "built_group_widths": [[8, 16, 16, 16], [1, 8, 4, 2], [8, 1, 2, 16]],
            "bottleneck_ratio": [1, 2, np.nan],
            "group_width": [16, np.nan, np.nan],
        }
    )
    d = derived_params(df)
    assert d["g"].tolist()[0] == 16 and np.isnan(d["g"].tolist()[1:]).all()
    assert d["b"].tolist()[:2] == [1, 2] and np.isnan(d["b"].iloc[2])
    assert d["g1"].tolist() == [16, 1, 32]  # per-stage columns hold the drawn design too
    labels, v = param_values(df, "g")
    assert labels == ["g"] and v[0, 0] == 16


def test_bootstrap_of_a_planted_shared_g_reports_the_drawn_value():
    from dsd.analysis import bootstrap_best

    rng = np.random.default_rng(0)
    g = rng.choice([1, 2, 4, 8, 16, 32], 300)
    err = 0.3 + 0.05 * (g != 16) + 0.01 * rng.random(300)  # g = 16 is best
    built = [[min(int(x), 8), int(x), int(x), int(x)] for x in g]  # stage 1 capped by its width
    df = pd.DataFrame(
        {"group_widths": [[int(x)] * 4 for x in g], "built_group_widths": built, "group_width": g}
    )
    r = bootstrap_best(param_values(df, "g")[1][:, 0], err, seed=0)
    assert (r.low, r.median, r.high) == (16, 16, 16)


def test_param_values_expands_list_params_per_stage():
    df = synthetic_results(5, regnet=True, failed=0)
    labels, v = param_values(df, "widths")
    assert labels == ["w1", "w2", "w3", "w4"] and v.shape == (5, 4)
    assert np.array_equal(v[:, 0], [w[0] for w in df["widths"]])
    labels, v = param_values(df, "w0")  # the RegNet parameter, not a stage width
    assert labels == ["w0"] and np.array_equal(v[:, 0], df["w0"])
    with pytest.raises(DsdError, match="unknown parameter"):
        param_values(df, "nonsense")


def test_load_results_merges_files_and_keeps_ok_rows(tmp_path):
    a, b = synthetic_results(20, "AnyNetXA", 0), synthetic_results(30, "AnyNetXA", 1, failed=5)
    write_table(a, tmp_path / "a.parquet")
    write_table(b, tmp_path / "b.parquet")
    df = load_results([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    assert len(df) == 50 and set(df["status"]) == {"ok"}
    assert list(groups(df)) == ["AnyNetXA"]  # files of the same space are merged
    everything = load_results([tmp_path / "b.parquet"], ["status=ok,failed"])
    assert len(everything) == 30  # failed rows have no error and are dropped from analysis
    only = load_results(a, ["space=AnyNetXA", "epochs=10"])
    assert len(only) == 20
    assert load_results(a, ["epochs=11"]).empty


def test_load_results_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_results([tmp_path / "missing.parquet"])
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not a parquet file")
    with pytest.raises(DataError, match=r"bad\.parquet"):
        load_results([bad])
    write_table(pd.DataFrame({"x": [1]}), tmp_path / "x.parquet")
    with pytest.raises(DataError, match="missing column"):
        load_results([tmp_path / "x.parquet"])
    with pytest.raises(DsdError, match="key=value"):
        load_results(synthetic_results(3), ["status"])
    with pytest.raises(DsdError, match="no column"):
        load_results(synthetic_results(3), ["colour=red"])


def test_csv_results_give_the_same_derived_params_as_parquet(tmp_path):
    df = synthetic_results(10, regnet=True)
    write_table(df, tmp_path / "r.csv")
    write_table(df, tmp_path / "r.parquet")
    a = derived_params(load_results(tmp_path / "r.csv"))
    b = derived_params(load_results(tmp_path / "r.parquet"))
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert a["d"].tolist() == [sum(x) for x in df["depths"][:10]]


def test_regime_range_reads_the_sampling_range():
    df = synthetic_results(10, failed=0, regime=(360e6, 400e6))
    assert regime_range(df) == (360e6, 400e6)
    assert regime_range(df, "params") is None  # not matched on params
    assert regime_range(synthetic_results(10, failed=0)) is None  # sampled without a range
    mixed = pd.concat([df, synthetic_results(5, failed=0, regime=(1e6, 2e6))])
    assert regime_range(mixed) is None  # rows disagree
    assert regime_range(df.drop(columns="regime")) is None


def test_metric_selects_the_error_column(tmp_path):
    df = synthetic_results(20, failed=2)
    write_table(df.drop(columns="top1_err"), tmp_path / "min_only.parquet")
    got = load_results([tmp_path / "min_only.parquet"], metric="top1_err_min")
    assert len(got) == 20 and np.isfinite(got["top1_err_min"]).all()
    with pytest.raises(DataError, match="top1_err"):
        load_results([tmp_path / "min_only.parquet"])  # the default metric is missing
