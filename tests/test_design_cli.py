"""``dsd design`` with the guarantees of a run: SIGKILL then the same command (only what is missing
trains, the same decisions), a second driver refused, bad input in one line with exit 2 and
nothing created, ``dsd status`` of a design folder."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter

import pytest
from design_fixtures import start_driver
from sweep_fixtures import counts, records, trace_lines, wait_for

from dsd.cli import main

CHAIN = "AnyNetXA,AnyNetXB"


def _steps(out):
    return {p.name: json.loads(p.read_text()) for p in sorted((out / "steps").glob("*.json"))}


def test_sigkill_mid_step_then_the_same_command_trains_only_what_is_missing(tmp_path):
    whole, out = tmp_path / "whole", tmp_path / "killed"
    assert start_driver(whole, tmp_path / "t_whole").wait(timeout=120) == 0
    trace = tmp_path / "trace"
    driver = start_driver(out, trace)
    wait_for(lambda: len(records(out / "AnyNetXA-1a")) >= 20, 120, "the confirmation to train")
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    assert len(records(out / "AnyNetXA-1a")) < 60  # killed mid-step
    done = {json.loads(p.read_text())["model_id"] for p in out.glob("*/records/*.json")}
    killed = trace_lines(trace)
    assert start_driver(out, trace).wait(timeout=120) == 0
    resumed = trace_lines(trace)[len(killed) :]
    assert not {line[1] for line in resumed} & done, "a model with a record was trained again"
    # at most the model in flight trains twice: the kill may land after its training ended and
    # before its record was written (the inline executor trains one model at a time)
    in_flight = next(line[1] for line in reversed(killed) if line[0] == "start")
    ends = [Counter(line[1] for line in part if line[0] == "end") for part in (killed, resumed)]
    assert max(ends[0].values()) == 1 and max(ends[1].values()) == 1
    assert set(ends[0]) & set(ends[1]) <= {in_flight}
    assert _steps(out) == _steps(whole)  # the same decisions as a run never stopped
    assert (out / "chain.csv").read_text() == (whole / "chain.csv").read_text()


def test_a_second_driver_is_refused_and_status_shows_the_chain(tmp_path, capsys):
    out, trace = tmp_path / "d", tmp_path / "trace"
    first = start_driver(out, trace, seconds=0.05)
    try:
        wait_for(lambda: len(records(out / "AnyNetXA")) >= 5, 120, "the first population")
        from design_fixtures import main as drive

        with pytest.raises(Exception, match=f"in use by another driver \\(pid {first.pid}"):
            drive([str(out), "--trace", str(trace), "--seconds", "0.05"])
        assert main(["status", str(out)]) == 0
        shown = capsys.readouterr().out
        assert "design discovery from AnyNetXA" in shown and f"pid {first.pid}" in shown
        assert "population AnyNetXA" in shown
        assert first.wait(timeout=180) == 0
    finally:
        first.kill()
    assert max(counts(trace, "end").values()) == 1  # the refused driver trained nothing
    assert main(["status", str(out)]) == 0
    assert "step 1: AnyNetXA + " in capsys.readouterr().out


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("keep")
    (tmp_path / "bad.yaml").write_text("name: x\nspaces: [AnyNetXA]\n")
    return tmp_path


BAD = [
    (["design", "--chain", "AnyNetXA,Nope", "digits_anynetx", "-o", "d"], "no space named"),
    (["design", "--chain", "AnyNetXA", "digits_anynetx", "-o", "d"], "two or more"),
    (["design", "--chain", "AnyNetXA,anynetxa", "digits_anynetx", "-o", "d"], "two or more"),
    (["design", "--start", "AnyNetXA", "nosuch", "-o", "d"], "no such experiment"),
    (["design", "--start", "AnyNetXA", "bad.yaml", "-o", "d"], "missing required key"),
    (["design", "--start", "Nope", "digits_anynetx", "-o", "d"], "no space named"),
    (["design", "--start", "AnyNetXA", "digits_anynetx", "-o", "d", "--alpha", "2"], "alpha"),
    (["design", "--start", "AnyNetXA", "digits_anynetx", "-o", "d", "--steps", "0"], "steps"),
    (
        ["design", "--start", "AnyNetXA", "digits_anynetx", "-o", "d", "--steps", str(10**9)],
        "steps",
    ),
    (["design", "--start", "AnyNetXA", "digits_anynetx", "-o", "d", "--tries", "51"], "tries"),
    (["design", "--start", "AnyNetXA", "digits_anynetx", "-o", "other"], "not a dsd design"),
    (["design", "--start", "AnyNetXA", "digits_anynetx", "-o", "bad.yaml"], "not a directory"),
    (
        ["design", "--start", "AnyNetXA", "--chain", CHAIN, "digits_anynetx", "-o", "d"],
        "not allowed",
    ),
    (["design", "digits_anynetx", "-o", "d"], "one of the arguments"),
    (["design", "--start", "AnyNetXA", "digits_anynetx", "-o", "d", "--reps", "1"], "reps"),
    (["status", "d"], "not a dsd run directory"),
]


@pytest.mark.parametrize(("argv", "words"), BAD)
def test_bad_input_is_one_line_exit_2_and_creates_nothing(ws, capsys, argv, words):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("dsd") and words in err[0], err
    assert sorted(p.name for p in ws.iterdir()) == ["bad.yaml", "other"]
    assert [p.name for p in (ws / "other").iterdir()] == ["x.txt"]


def test_a_design_folder_of_another_chain_is_refused(tmp_path, capsys):
    from design_fixtures import experiment, fast_options

    from dsd.design import replay_chain

    out = tmp_path / "d"
    replay_chain(experiment(12), CHAIN.split(","), out, fast_options(min_models=2))
    before = sorted(str(p) for p in out.rglob("*"))
    code = main(["design", "--chain", "AnyNetXA,AnyNetXC", "digits_anynetx", "-o", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds another design (replay AnyNetXA,AnyNetXB" in err[0]
    assert sorted(str(p) for p in out.rglob("*")) == before
