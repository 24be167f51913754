"""Loading, filtering and derived parameters of results tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import synthetic_results

from dsd.analysis import derived_params, load_results
from dsd.analysis.data import groups, param_values
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
    assert (d["b"], d["g"], d["b3"]) == (2, 16, 2)
    assert d["flops"] == 397_678_568 and d["w0"] == 24


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
