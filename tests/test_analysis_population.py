"""Populations loaded once, with a ledger: every row read is used or excluded for a named reason;
repeats are found on typed keys; no command writes over an input; options have bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import synthetic_results

from dsd.analysis import AnalysisOptions, Ledger, load_populations
from dsd.analysis.data import REASONS
from dsd.cli import main
from dsd.errors import DataError, DsdError
from dsd.io import write_table


@pytest.fixture
def base() -> pd.DataFrame:
    return synthetic_results(150, "AnyNetXA", 0, failed=0)


def _ledger(df, **options) -> dict[str, Ledger]:
    return load_populations(df, **options).ledgers


def test_each_reason_is_counted_and_the_rows_used_are_the_rest(base):
    df = base.copy()
    df.loc[0:49, "top1_err"] = np.nan  # the case: 50 ok rows with a NaN error
    df.loc[50:59, "top1_err"] = np.inf
    df["status"] = df["status"].astype(object)
    df.loc[60:69, "status"] = "OK"
    df.loc[70:74, "status"] = None
    df.loc[75:79, "status"] = "failed"
    df.loc[80:81, "status"] = "diverged"
    df.loc[82:84, "epochs"] = 11
    pops = load_populations(df, filters=("epochs=10",))
    (ledger,) = pops.ledgers.values()
    assert ledger.read == 150 and ledger.used == 150 - 85 == pops["AnyNetXA"].n
    assert dict(ledger.excluded) == {
        "filtered out": 3,
        "failed": 5,
        "diverged": 2,
        "unknown status": 15,
        "non-finite metric": 60,
    }
    assert [r for r, _ in ledger.excluded] == [r for r in REASONS if r in dict(ledger.excluded)]
    assert ledger.describe() == (
        "150 rows read, 65 used; excluded: 3 filtered out, 5 failed, 2 diverged, "
        "15 unknown status, 60 non-finite top1_err"
    )
    kept = df.iloc[85:]
    assert np.array_equal(np.sort(pops["AnyNetXA"].errors), np.sort(kept["top1_err"]))


def test_rows_without_a_group_key_are_named_not_dropped(base):
    df = base.copy()
    df["space"] = df["space"].astype(object)
    df.loc[0:9, "space"] = None
    ledgers = _ledger(df)
    assert ledgers["(no space)"] == Ledger(10, (("missing group key", 10),))
    assert ledgers["AnyNetXA"] == Ledger(140)
    # --by group_width on XA (no shared g) and XC rows: XA's rows have no key and are named
    xc = synthetic_results(40, "AnyNetXC", 1, failed=0)
    mixed = pd.concat([base.iloc[:30], xc], ignore_index=True)
    pops = load_populations(mixed, by="group_width")
    assert pops.ledgers["(no group_width)"].excluded == (("missing group key", 30),)
    assert sum(p.n for p in pops.values()) == 40
    assert set(pops) == {str(g) for g in xc["group_width"]}  # 16, not 16.0
    assert pops.ledger_table()["read"].sum() == 70


def test_a_population_with_no_row_used_keeps_its_ledger_and_no_rows_is_an_error(base):
    failed = synthetic_results(5, "AnyNetXB", 2, failed=0).assign(status="failed", top1_err=np.nan)
    pops = load_populations(pd.concat([base, failed], ignore_index=True))
    assert list(pops) == ["AnyNetXA"] and pops.ledgers["AnyNetXB"] == Ledger(5, (("failed", 5),))
    with pytest.raises(DsdError, match=r"no rows left to analyse \(AnyNetXB: 5 rows read, 0 used"):
        load_populations(failed)


def test_errors_outside_zero_one_are_refused_with_the_row(base, tmp_path):
    df = base.copy()
    df.loc[7, "top1_err"] = 37.5  # percent
    write_table(df, tmp_path / "p.parquet")
    with pytest.raises(DataError, match=r"p\.parquet: column top1_err, row 7: 37\.5 is above 1"):
        load_populations(tmp_path / "p.parquet")
    with pytest.raises(DataError, match="row 7"):
        load_populations(df)
    with pytest.raises(DataError, match="column images_per_second: errors are fractions"):
        load_populations(base, metric="images_per_second")  # any column, if it holds fractions


def test_a_repeat_with_a_missing_training_seed_is_a_repeat(base, tmp_path):
    # one file writes the missing seed as a float NaN, the other as None (an object column): as
    # text they differ ("nan" / "None"), as typed values they are equal
    write_table(base.assign(train_seed=np.nan), tmp_path / "a.parquet")
    b = base.assign(train_seed=pd.Series([None] * len(base), dtype=object))
    write_table(b, tmp_path / "b.parquet")
    with pytest.raises(DataError, match=r"appears 2 times \(in .*a\.parquet and .*b\.parquet"):
        load_populations([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    # 0 and 0.0 are one seed; a design id, when there is one, identifies the design
    c = base.assign(train_seed=0.0)
    with pytest.raises(DataError, match="appears 2 times"):
        load_populations(pd.concat([base, c], ignore_index=True))
    d = base.assign(design_id=[f"d{i // 2}" for i in range(len(base))])
    with pytest.raises(DataError, match="appears 2 times"):
        load_populations(d)


def test_a_file_given_twice_or_through_a_link_is_refused(base, tmp_path):
    path = tmp_path / "r.parquet"
    write_table(base, path)
    (tmp_path / "link.parquet").symlink_to(path)
    for twice in ([path, path], [path, tmp_path / "link.parquet"]):
        with pytest.raises(DataError, match="appears 2 times; give each results file once"):
            load_populations(twice)


@pytest.mark.parametrize(
    "argv",
    [
        ["bootstrap", "R", "--param", "d", "--reps", "50", "--table", "R"],
        ["bootstrap", "R", "--param", "d", "--reps", "50", "-o", "LINK"],
        ["edf", "R", "-o", "LINK"],
        ["fit", "R", "--top", "1", "-o", "LINK"],
        ["report", "R", "--top", "1", "-o", "LINK"],
        ["report", "R", "--top", "1", "-o", "x.html", "--figures", "R"],
        ["edf", "R", "R"],
        ["compare", "R", "LINK"],
    ],
)
def test_no_command_writes_over_an_input(argv, base, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_table(base, tmp_path / "r.parquet")
    for name, target in (("r.png", "r.parquet"), ("r.html", "r.parquet")):
        (tmp_path / name).symlink_to(tmp_path / target)  # a figure name that is the input
    link = "r.html" if "report" in argv and "-o" in argv[-2:] else "r.png"
    before = (tmp_path / "r.parquet").read_bytes()
    argv = [{"R": "r.parquet", "LINK": link}.get(a, a) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    said = ("is an input", "given twice", "the same file as", "is not a folder")
    assert len(err) == 1 and any(s in err[0] for s in said), err
    assert (tmp_path / "r.parquet").read_bytes() == before


def test_options_refuse_values_out_of_their_bounds():
    for bad in (
        {"bins": 0},
        {"bins": 2**31 - 1},
        {"reps": 10**7},
        {"top": 0},
        {"alpha": 1.0},
        {"normalise": "latency"},
        {"range": (5.0, 1.0)},
        {"filters": ("status",)},
        {"metric": ""},
    ):
        with pytest.raises(DsdError):
            AnalysisOptions(**bad)
    assert AnalysisOptions(filters=["status=ok"]).filters == ("status=ok",)


def test_the_populations_carry_edfs_and_normalised_weights_computed_once(base):
    pops = load_populations(base.assign(regime='{"flops": [1e7, 4e10]}'), normalise="flops", bins=4)
    p = pops["AnyNetXA"]
    assert p.edf.n == 150 and p.nedf is not None and p.weights.shape == (150,)
    assert pops.normalisation.bins <= 4 and pops.normalisation.source == "regime"
    assert p.nedf.n == int((p.weights > 0).sum())
    assert pops.edfs(True)["AnyNetXA"] is p.nedf and pops.edfs()["AnyNetXA"] is p.edf


def test_loaded_populations_are_reused_with_their_options(base, tmp_path):
    from dsd.analysis import write_report

    pops = load_populations(base, metric="top1_err_min")
    assert load_populations(pops) is not pops and load_populations(pops).metric == "top1_err_min"
    page = write_report(pops, tmp_path / "r.html", reps=100, params=("d",), top=2)
    assert "top1_err_min (best top-1 error over epochs" in page.read_text()
    with pytest.raises(DsdError, match="loaded with metric='top1_err_min', not 'top1_err'"):
        load_populations(pops, metric="top1_err")
