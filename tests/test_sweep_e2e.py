"""`dsd run` end to end with the real spaces and trainer on tiny digits models, then `dsd status`."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from dsd.cli import main

TINY = {
    "name": "tiny",
    "spaces": ["AnyNetXA", "AnyNetXE"],
    "n": 2,
    "flops": ["0.2M", "0.8M"],
    "resolution": 8,
    "num_classes": 10,
    "dataset": "digits",
    "epochs": 1,
    "recipe": {"batch_size": 128, "num_workers": 0, "device": "cpu"},
    "seeds": [0],
    "executor": {"kind": "local", "slots": 2, "threads_per_slot": 1},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished tiny run: 2 spaces x 2 models x 1 epoch on digits at 8x8."""
    root = tmp_path_factory.mktemp("e2e")
    exp = root / "tiny.yaml"
    exp.write_text(yaml.safe_dump(TINY))
    assert main(["run", str(exp), "-o", str(root / "run"), "--quiet"]) == 0
    return root, exp


def test_dsd_run_trains_every_model_and_collects_results(tiny_run, capsys):
    root, _ = tiny_run
    df = pd.read_parquet(root / "run" / "results.parquet")
    assert len(df) == 4 and df["task_id"].is_unique
    assert list(df["space"].unique()) == ["AnyNetXA", "AnyNetXE"]
    assert set(df["status"]) == {"ok"}
    assert df["top1_err"].between(0, 1).all()
    assert (df["dataset"] == "digits").all() and (df["epochs"] == 1).all()
    assert (df["train_seed"] == 0).all() and df["flops"].between(0.2e6, 0.8e6).all()
    samples = pd.read_parquet(root / "run" / "samples.parquet")
    assert list(samples["model_id"]) == list(df["model_id"])


def test_report_is_written_when_analysis_exists(tiny_run):
    root, _ = tiny_run
    try:
        from dsd.analysis import write_report  # noqa: F401
    except ImportError:
        pytest.skip("dsd.analysis.write_report is not there yet")
    assert (root / "run" / "report.html").stat().st_size > 0


def test_rerun_resumes_and_status_reports_done(tiny_run, capsys):
    root, exp = tiny_run
    assert main(["run", str(exp), "-o", str(root / "run"), "--quiet", "--no-report"]) == 0
    assert "trained now: 0" in capsys.readouterr().out
    assert main(["status", str(root / "run")]) == 0
    out = capsys.readouterr().out
    assert "4 models" in out and "done          4  (ok 4)" in out and "ETA      finished" in out


def test_a_changed_experiment_is_refused_in_an_old_run_dir(tiny_run, capsys):
    root, _ = tiny_run
    changed = root / "changed.yaml"
    changed.write_text(yaml.safe_dump({**TINY, "epochs": 2}))
    assert main(["run", str(changed), "-o", str(root / "run"), "--quiet"]) == 2
    assert "was started with another experiment (differs in: epochs)" in capsys.readouterr().err


def test_status_of_a_folder_that_is_no_run(tmp_path, capsys):
    assert main(["status", str(tmp_path)]) == 2
    assert "not a dsd run directory" in capsys.readouterr().err
