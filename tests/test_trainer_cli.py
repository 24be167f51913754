"""``dsd train``: results written per model, resume by model_id, bad input -> one line, exit 2."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from trainer_fixtures import tiny_net, write_cifar, write_samples

from dsd.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST = ["--epochs", "1", "--batch-size", "64", "--lr", "0.5", "--no-progress"]


@pytest.fixture
def samples(tmp_path):
    """A samples file of three tiny models."""
    return write_samples(tmp_path / "s.parquet", [tiny_net(w) for w in (16, 24, 32)])


def _one_error_line(capsys, *needles: str) -> str:
    """The captured stderr, checked to be exactly one line containing every needle."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_train_then_resume_skips_finished_models(samples, tmp_path, capsys):
    out = tmp_path / "r.parquet"
    assert main(["train", str(samples), "-o", str(out), "--limit", "1", *FAST]) == 0
    first = pd.read_parquet(out)
    assert len(first) == 1 and first.loc[0, "status"] == "ok"
    assert "trained 1 model(s) (1 ok); skipped 0" in capsys.readouterr().out

    assert main(["train", str(samples), "-o", str(out), *FAST]) == 0
    second = pd.read_parquet(out)
    assert len(second) == 3 and second["model_id"].is_unique
    assert set(second["model_id"]) == set(pd.read_parquet(samples)["model_id"])
    # the first model was not trained again: its record is unchanged
    assert second.loc[0, "finished_at"] == first.loc[0, "finished_at"]
    assert list(second.loc[0, "train_loss"]) == list(first.loc[0, "train_loss"])
    assert "trained 2 model(s) (2 ok); skipped 1" in capsys.readouterr().out

    assert main(["train", str(samples), "-o", str(out), *FAST]) == 0
    assert "trained 0 model(s) (none); skipped 3" in capsys.readouterr().out
    assert len(pd.read_parquet(out)) == 3


def test_resuming_with_another_recipe_is_refused(samples, tmp_path, capsys):
    out = tmp_path / "r.parquet"
    assert main(["train", str(samples), "-o", str(out), "--limit", "1", *FAST]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert main(["train", str(samples), "-o", str(out), *FAST, "--lr", "0.1"]) == 2
    _one_error_line(capsys, "lr=0.5, this run asks lr=0.1")
    assert main(["train", str(samples), "-o", str(out), *FAST, "--seed", "7"]) == 2
    _one_error_line(capsys, "train_seed=0, this run asks train_seed=7")
    assert out.read_bytes() == before


def test_results_keep_sample_columns_and_lists(samples, tmp_path):
    out = tmp_path / "r.parquet"
    assert main(["train", str(samples), "-o", str(out), "--limit", "1", *FAST]) == 0
    res = pd.read_parquet(out)
    for col in pd.read_parquet(samples).columns:
        assert col in res.columns
    assert list(res.loc[0, "widths"]) == [16, 16]
    assert len(res.loc[0, "test_err"]) == 1 and res.loc[0, "epochs"] == 1


def test_class_count_mismatch_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    samples = write_samples(tmp_path / "s.parquet", [tiny_net(16, classes=100)])
    out = tmp_path / "r.parquet"
    assert main(["train", str(samples), "-o", str(out), *FAST]) == 2
    _one_error_line(capsys, "dsd train: error:", "10 classes", "num_classes=100")
    assert not out.exists()


def test_unreadable_data_path_exits_2(samples, tmp_path, capsys):
    out = tmp_path / "r.parquet"
    args = ["train", str(samples), "-o", str(out), "--dataset", "cifar10", *FAST]
    assert main([*args, "--data", str(tmp_path / "nowhere")]) == 2
    _one_error_line(capsys, "nowhere", "not a readable directory")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*args, "--data", str(empty)]) == 2
    _one_error_line(capsys, "missing", "data_batch_1")
    assert not out.exists()


def test_bad_inputs_exit_2_with_one_line(samples, tmp_path, capsys):
    out = tmp_path / "r.parquet"
    assert main(["train", str(samples), "-o", str(out), "--dataset", "mnist"]) == 2
    _one_error_line(capsys, "unknown dataset 'mnist'")
    assert main(["train", str(tmp_path / "none.parquet"), "-o", str(out)]) == 2
    _one_error_line(capsys, "none.parquet: no such file")
    corrupt = tmp_path / "bad.parquet"
    corrupt.write_bytes(b"PAR1 garbage")
    assert main(["train", str(corrupt), "-o", str(out)]) == 2
    _one_error_line(capsys, "bad.parquet", "not a readable parquet")
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"a": [1]}).to_csv(wrong)
    assert main(["train", str(wrong), "-o", str(out)]) == 2
    _one_error_line(capsys, "missing column(s) model_id")
    assert main(["train", str(samples), "-o", str(tmp_path / "r.txt")]) == 2
    _one_error_line(capsys, "unsupported extension")
    assert main(["train", str(samples), "-o", str(out), "--epochs", "0"]) == 2
    _one_error_line(capsys, "epochs must be from 1 to 100,000")
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_forcing_a_missing_device_exits_2(samples, tmp_path, capsys):
    out = tmp_path / "r.parquet"
    assert main(["train", str(samples), "-o", str(out), "--device", "cuda", *FAST]) == 2
    _one_error_line(capsys, "CUDA is not available")
    assert not out.exists()


def test_trains_on_cifar_files_from_the_command_line(tmp_path):
    root = write_cifar(tmp_path / "cifar", n_per_batch=16)
    samples = write_samples(tmp_path / "s.parquet", [tiny_net(16, resolution=16)])
    out = tmp_path / "r.csv"
    args = ["train", str(samples), "-o", str(out), "--dataset", "cifar10", "--data", str(root)]
    assert main([*args, "--epochs", "1", "--batch-size", "16", "--no-progress"]) == 0
    res = pd.read_csv(out)
    assert res.loc[0, "status"] == "ok" and res.loc[0, "dataset"] == "cifar10"


def test_help_shows_an_example(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    assert (
        "dsd train s.parquet --dataset digits --epochs 3 -o results.parquet"
        in capsys.readouterr().out
    )


def _records(out):
    return sorted((out.parent / f"{out.name}.run" / "records").glob("*.json"))


def test_killed_run_loses_at_most_the_model_in_flight_and_resume_skips_the_rest(tmp_path, capsys):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    nets = [tiny_net(w) for w in (16, 24, 32, 40)]
    samples = write_samples(tmp_path / "s.parquet", nets)
    out = tmp_path / "r.parquet"
    argv = [sys.executable, "-m", "dsd", "train", str(samples), "-o", str(out), *FAST]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([*argv, "--epochs", "3"], env=env, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not _records(out) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up or to write the results table
    proc.wait()
    kept = {p.stem: json.loads(p.read_text()) for p in _records(out)}
    assert 1 <= len(kept) < 4 and not out.exists()

    assert main(["train", str(samples), "-o", str(out), *FAST, "--epochs", "3"]) == 0
    n = len(kept)
    assert f"trained {4 - n} model(s) ({4 - n} ok); skipped {n}" in capsys.readouterr().out
    res = pd.read_parquet(out)
    assert list(res["model_id"]) == list(pd.read_parquet(samples)["model_id"])
    for task, rec in kept.items():  # not trained again: the same record
        row = res[res["task_id"] == task].iloc[0]
        assert row["finished_at"] == rec["finished_at"] and row["top1_err"] == rec["top1_err"]


def test_a_results_file_without_run_folder_is_resumed_and_keeps_its_other_rows(
    samples, tmp_path, capsys
):
    import shutil

    out = tmp_path / "r.csv"
    assert main(["train", str(samples), "-o", str(out), "--limit", "1", *FAST]) == 0
    shutil.rmtree(tmp_path / "r.csv.run")  # as written by a dsd train without run folders
    first = pd.read_csv(out)
    other = first.assign(model_id="another-model")
    pd.concat([first, other]).to_csv(out, index=False)
    capsys.readouterr()
    assert main(["train", str(samples), "-o", str(out), *FAST]) == 0
    assert "trained 2 model(s) (2 ok); skipped 1" in capsys.readouterr().out
    res = pd.read_csv(out)
    assert len(res) == 4 and "another-model" in set(res["model_id"])
    kept = res[res["model_id"] == first.loc[0, "model_id"]].iloc[0]
    assert kept["finished_at"] == first.loc[0, "finished_at"]


def test_another_samples_file_into_the_same_output_is_refused(samples, tmp_path, capsys):
    out = tmp_path / "r.parquet"
    assert main(["train", str(samples), "-o", str(out), "--limit", "1", *FAST]) == 0
    before = out.read_bytes()
    other = write_samples(tmp_path / "t.parquet", [tiny_net(w) for w in (48, 56)])
    capsys.readouterr()
    assert main(["train", str(other), "-o", str(out), *FAST]) == 2
    _one_error_line(capsys, "belongs to a run of another samples file", "use another output file")
    assert out.read_bytes() == before and len(_records(out)) == 1


def test_ctrl_c_writes_the_results_of_the_models_already_trained(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    samples = write_samples(tmp_path / "s.parquet", [tiny_net(w) for w in (16, 24, 32, 40)])
    out = tmp_path / "r.parquet"
    argv = [sys.executable, "-m", "dsd", "train", str(samples), "-o", str(out), *FAST]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([*argv, "--epochs", "3"], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not _records(out) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "dsd train: interrupted"
    res = pd.read_parquet(out)
    assert 1 <= len(res) < 4 and (res["status"] == "ok").all()
    assert len(res) == len(_records(out))  # the table holds every record, and nothing else
