"""Fault tests: the red team's data-loss cases lose nothing.

Damaged records and task lists, two `dsd train` processes on one output, a samples CSV, an experiment
rejected and then corrected, a damaged experiment.yaml. Training is faked (dsd.sweep.testing) where
the sweep machinery is what is tested.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sweep_fixtures import counts

from dsd.cli import main
from dsd.io import exclusive, read_table, write_table
from dsd.pipeline import experiment_options, run_experiment
from dsd.sweep import ExecutorSettings, SweepOptions, parse_experiment, run_status, run_sweep
from dsd.sweep.testing import FakeTrainer, fake_samples

LOCAL = ExecutorSettings(kind="local", slots=1, threads_per_slot=1, max_retries=1, time_min=5)


def _sweep(run_dir, trace, n=2):
    options = SweepOptions(trainer=FakeTrainer(trace=str(trace)), executor=LOCAL, progress=False)
    return run_sweep(fake_samples(n), run_dir, options)


def test_damaged_records_are_set_aside_and_retrained_not_lost(tmp_path, capsys):
    run, trace = tmp_path / "run", tmp_path / "trace"
    first = _sweep(run, trace)
    assert first.counts == {"ok": 4}
    recs = sorted((run / "records").glob("*.json"))
    recs[0].write_bytes(b"")  # a full disk's empty file
    recs[1].write_text('{"status": "ok", "top1')  # truncated
    recs[2].write_text("[1, 2, 3]")  # JSON, but not a record
    damaged = {p.stem for p in recs[:3]}
    assert run_status(run).describe()  # status reads a damaged run without a traceback
    capsys.readouterr()
    again = _sweep(run, trace)
    assert "3 damaged record(s)" in capsys.readouterr().err
    assert again.counts == {"ok": 4} and again.trained == 3
    df = pd.read_parquet(again.results)
    assert sorted(df["task_id"]) == sorted(p.stem for p in recs)  # nothing vanished
    ends = counts(trace, "end")
    ids = {p.stem: p.stem.split("-")[2] for p in recs}
    for task, mid8 in ids.items():
        model = next(m for m in ends if m.startswith(mid8))
        assert ends[model] == (2 if task in damaged else 1)
    assert {p.name for p in (run / "records").glob("*.damaged")} == {
        f"{t}.json.damaged" for t in damaged
    }


def test_a_damaged_task_list_is_rebuilt_from_the_samples_on_resume(tmp_path, capsys):
    run, trace = tmp_path / "run", tmp_path / "trace"
    _sweep(run, trace)
    (run / "tasks.json").write_text('{"tasks": [')
    assert main(["status", str(run)]) == 2
    assert "tasks.json is damaged" in capsys.readouterr().err
    again = _sweep(run, trace)
    assert again.counts == {"ok": 4} and again.trained == 0  # nothing retrained
    assert len(json.loads((run / "tasks.json").read_text())["tasks"]) == 4


def test_a_second_dsd_train_on_one_output_is_refused_and_the_first_keeps_its_rows(tmp_path, capsys):
    from dsd.spaces import load_space

    samples = load_space("AnyNetXA").sample(2, seed=0, resolution=8, num_classes=10)
    write_table(samples, tmp_path / "s.parquet")
    out = tmp_path / "r.parquet"
    out.write_bytes(b"rows of the first writer")
    with exclusive(out, "dsd train"):  # the first process, still training
        code = main(["train", str(tmp_path / "s.parquet"), "-o", str(out), "--epochs", "1"])
    assert code == 2
    assert "is being written by dsd train (pid" in capsys.readouterr().err
    assert out.read_bytes() == b"rows of the first writer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.parquet", "s.parquet"]  # lock gone


def test_a_samples_csv_keeps_its_list_columns_and_trains(tmp_path, one_torch_thread, capsys):
    from dsd.spaces import load_space

    samples = load_space("AnyNetXC").sample(2, seed=1, resolution=8, num_classes=4)
    write_table(samples, tmp_path / "s.csv")
    back = read_table(tmp_path / "s.csv")
    for col in ("depths", "widths", "group_widths", "bottleneck_ratios", "strides"):
        assert [list(map(int, v)) for v in back[col]] == [list(v) for v in samples[col]]
    out = tmp_path / "r.csv"
    argv = ["train", str(tmp_path / "s.csv"), "-o", str(out), "--dataset", "synthetic"]
    argv += ["--epochs", "1", "--batch-size", "32", "--no-progress", "--device", "cpu"]
    assert main(argv) == 0, capsys.readouterr().err
    res = read_table(out)
    assert list(res["status"]) == ["ok", "ok"]
    assert isinstance(res["test_err"][0], list)  # a results CSV reads back with lists too
    assert np.isfinite(res["top1_err"]).all()


EXP = {
    "name": "faults",
    "spaces": ["AnyNetXA"],
    "n": 2,
    "resolution": 8,
    "num_classes": 10,
    "dataset": "digits",
    "epochs": 1,
}


def _fake_run(exp, run, report=True):
    """``dsd run`` of ``exp`` into ``run`` with the fake trainer."""
    options = experiment_options(exp, trainer=FakeTrainer(), executor=LOCAL, progress=False)
    return run_experiment(exp, run, options, report=report).sweep


def test_a_rejected_experiment_leaves_nothing_and_the_corrected_one_runs(tmp_path):
    run = tmp_path / "run"
    bad = parse_experiment({**EXP, "spaces": ["AnyNetXA", "NoSuchSpace"]}, "bad.yaml")
    with pytest.raises(Exception, match="NoSuchSpace"):
        _fake_run(bad, run)
    assert not run.exists()
    good = parse_experiment(EXP, "good.yaml")
    summary = _fake_run(good, run)
    assert summary.counts == {"ok": 2}


def test_a_damaged_experiment_file_is_rewritten_only_while_nothing_was_trained(tmp_path, capsys):
    run = tmp_path / "run"
    good = parse_experiment(EXP, "good.yaml")
    run.mkdir()
    (run / "experiment.yaml").write_bytes(b"")  # what a full disk left before atomic writes
    assert _fake_run(good, run, report=False).counts == {"ok": 2}
    assert "was damaged; written again" in capsys.readouterr().err
    (run / "experiment.yaml").write_bytes(b"\x00\x00")
    with pytest.raises(Exception, match="is damaged and the run has records"):
        _fake_run(good, run, report=False)


def test_one_space_named_twice_in_any_spelling_is_refused():
    from dsd.errors import DsdError
    from dsd.spaces.loader import resolve

    for spaces in (["AnyNetXA", "anynetxa"], ["AnyNetXC", str(resolve("AnyNetXC"))]):
        with pytest.raises(DsdError, match="name the same space"):
            parse_experiment({**EXP, "spaces": spaces}, "e.yaml")


def test_a_csv_list_column_with_missing_cells_comes_back_as_lists(tmp_path):
    """A list column only some rows have (EfficientNet kernels beside AnyNet rows) stays a list
    column after a CSV round trip; its missing cells stay missing."""
    import numpy as np

    from dsd.io import read_table, write_table

    df = pd.DataFrame(
        {"model_id": ["a", "b"], "depths": [[1, 2], [3]], "kernels": [[3, 5], np.nan]}
    )
    write_table(df, tmp_path / "mixed.csv")
    back = read_table(tmp_path / "mixed.csv")
    assert back["depths"].tolist() == [[1, 2], [3]]
    assert back["kernels"].iloc[0] == [3, 5] and pd.isna(back["kernels"].iloc[1])
