"""Nothing is created before the checks that can refuse a run pass, and what a run folder says
about itself is true: task ids safe whatever the space is called, records final only when
well-formed, a lost samples file sampled again, the command that resumes a run, its devices.

Training is faked (dsd.sweep.testing.FakeTrainer) where the sweep machinery is what is tested.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import stat

import pandas as pd
import pytest
import yaml
from sweep_fixtures import counts
from trainer_fixtures import write_cifar

from dsd.cli import main
from dsd.errors import DsdError
from dsd.pipeline import experiment_options, run_experiment
from dsd.schema import record_problem
from dsd.sweep import (
    ExecutorSettings,
    SweepOptions,
    exec_local,
    parse_experiment,
    run_status,
    run_sweep,
    task_ids,
    train_samples,
)
from dsd.sweep.testing import FakeTrainer, fake_samples

LOCAL = ExecutorSettings(kind="local", slots=1, threads_per_slot=1, max_retries=0, time_min=5)
TINY = {
    "name": "tiny",
    "spaces": ["AnyNetXA"],
    "n": 1,
    "flops": ["0.2M", "0.8M"],
    "resolution": 8,
    "num_classes": 10,
    "dataset": "digits",
    "epochs": 1,
    "recipe": {"batch_size": 16, "num_workers": 0, "device": "cpu"},
    "executor": {"kind": "local", "slots": 1, "threads_per_slot": 1},
}


def _options(trainer=None, **kw) -> SweepOptions:
    return SweepOptions(trainer=trainer or FakeTrainer(), executor=LOCAL, progress=False, **kw)


def _write(path, doc) -> str:
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _one_line(capsys, *needles) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    for needle in needles:
        assert needle in err[0], err[0]
    return err[0]


# -- checks before anything is created ------------------------------------------------------
def test_an_unreadable_data_set_creates_nothing_and_the_corrected_run_starts(
    tmp_path, capsys, one_torch_thread
):
    exp = _write(tmp_path / "c10.yaml", {**TINY, "dataset": "cifar10"})
    run = tmp_path / "run"
    assert main(["run", exp, "-o", str(run), "--data", str(tmp_path / "nowhere"), "--quiet"]) == 2
    _one_line(capsys, "nowhere", "not a readable directory")
    assert not run.exists()  # neither samples nor a task list to refuse the corrected run with
    cifar = write_cifar(tmp_path / "cifar", n_per_batch=16)
    argv = ["run", exp, "-o", str(run), "--data", str(cifar), "--quiet", "--no-report"]
    assert main(argv) == 0, capsys.readouterr().err
    assert pd.read_parquet(run / "results.parquet")["status"].tolist() == ["ok"]


def test_a_data_set_refused_by_the_trainer_leaves_no_folder(tmp_path):
    with pytest.raises(DsdError, match="not a readable directory"):
        run_sweep(fake_samples(2), tmp_path / "run", _options(FakeTrainer(unreadable_data=True)))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("sinfo", "options", "message"),
    [
        (
            "echo 'slurm_load_partitions: Unable to contact slurm controller' >&2; exit 1",
            [],
            "the controller does not answer (sinfo: slurm_load_partitions: Unable to contact",
        ),
        (
            "echo debug; echo gpu",
            ["--partition", "nope"],
            "no partition 'nope' (this cluster has: debug, gpu)",
        ),
        ("echo debug", ["--partition", "a\nb"], "only letters, digits and"),
    ],
)
def test_slurm_that_cannot_run_the_sweep_is_one_line_and_creates_nothing(
    tmp_path, monkeypatch, capsys, sinfo, options, message
):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in {
        "sinfo": sinfo,
        "sbatch": "exit 1",
        "srun": "",
        "sacct": "",
        "scancel": "",
    }.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    exp = _write(tmp_path / "e.yaml", TINY)
    run = tmp_path / "run"
    assert main(["run", exp, "-o", str(run), "--executor", "slurm", *options]) == 2
    _one_line(capsys, message)
    assert not run.exists()  # no slurm/ folder either


def test_a_failing_sbatch_is_one_line_not_a_submitit_traceback(tmp_path, monkeypatch, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {"sinfo": "echo debug", "sbatch": "echo 'sbatch: error: invalid account' >&2; exit 1"}
    for name in ("srun", "sacct", "scancel"):
        scripts[name] = "exit 0"
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(bin_dir.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    exp = _write(tmp_path / "e.yaml", TINY)
    assert main(["run", exp, "-o", str(tmp_path / "run"), "--executor", "slurm", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        err[-1].startswith("dsd run: error: slurm: cannot submit jobs") and "Traceback" not in err
    )


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("ray://127.0.0.1:1", "needs the Ray client: pip install 'ray[client]'"),
        ("127.0.0.1:1", "ray: no cluster answers at 127.0.0.1:1"),
        ("nonsense", "is not auto, HOST:PORT or ray://HOST:PORT"),
    ],
)
def test_a_ray_cluster_that_cannot_be_reached_is_one_line(tmp_path, capsys, address, message):
    pytest.importorskip("ray")
    if address.startswith("ray://") and importlib.util.find_spec("grpc") is not None:
        pytest.skip("the Ray client is installed here")
    exp = _write(tmp_path / "e.yaml", TINY)
    run = tmp_path / "run"
    assert main(["run", exp, "-o", str(run), "--executor", "ray", "--address", address]) == 2
    _one_line(capsys, message)
    assert not run.exists()


def test_an_experiment_named_with_a_newline_is_refused():
    with pytest.raises(DsdError, match="holds a control character"):
        parse_experiment({**TINY, "name": "two\nlines"}, "e.yaml")


# -- task ids ----------------------------------------------------------------------------------
def test_task_ids_are_safe_and_bounded_whatever_the_space_is_called(tmp_path):
    long_a, long_b = "A" * 299 + "a", "A" * 299 + "b"
    samples = pd.DataFrame(
        {
            "space": [long_a, long_b, ".hidden", "we/ird: name"],
            "model_id": ["m1", "m2", "../x", "m4"],
        }
    )
    ids = task_ids(samples, (0, 1))
    assert len(set(ids)) == 8 and max(map(len, ids)) <= 64 + 20
    assert ids[0].startswith("A" * 55 + "-") and ids[0][:64] != ids[1][:64]  # prefix + hash
    assert ids[2].startswith("_hidden-0000-") and "/" not in "".join(ids)
    assert all(not t.startswith(".") for t in ids)
    run = run_sweep(samples.assign(depths=[[1]] * 4), tmp_path / "run", _options())
    assert run.counts == {"ok": 4}  # every record written, first time
    assert sorted(p.stem for p in (tmp_path / "run" / "records").glob("*.json")) == sorted(ids[:4])


# -- records ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("record", "final"),
    [
        ({"status": "ok", "top1_err": 0.3}, True),
        ({"status": "ok", "top1_err": 0, "top1_err_min": 0.0}, True),
        ({"status": "diverged", "top1_err": float("nan")}, True),
        ({"status": "failed"}, True),
        ({"status": "ok", "top1_err": None}, False),
        ({"status": "ok"}, False),
        ({"status": "ok", "top1_err": float("nan")}, False),
        ({"status": "ok", "top1_err": float("inf")}, False),
        ({"status": "ok", "top1_err": 1.5}, False),
        ({"status": "ok", "top1_err": True}, False),
        ({"status": "ok", "top1_err": "0.3"}, False),
        ({"status": "ok", "top1_err": 0.3, "top1_err_min": None}, False),
        ({"status": "OK", "top1_err": 0.3}, False),
        ([1, 2, 3], False),
    ],
)
def test_a_record_is_final_only_when_well_formed_for_its_status(record, final):
    assert (record_problem(record) == "") is final


def test_a_record_edited_to_ok_without_an_error_is_trained_again(tmp_path, capsys):
    trace = tmp_path / "trace"
    options = _options(FakeTrainer(trace=str(trace)))
    run_sweep(fake_samples(2), tmp_path / "run", options)
    record = sorted((tmp_path / "run" / "records").glob("*.json"))[0]
    doc = json.loads(record.read_text())
    record.write_text(json.dumps({**doc, "top1_err": None}))
    capsys.readouterr()
    again = run_sweep(fake_samples(2), tmp_path / "run", options)
    assert again.trained == 1 and again.counts == {"ok": 4}
    assert "1 damaged record(s)" in capsys.readouterr().err
    assert counts(trace, "end")[doc["model_id"]] == 2
    assert record.with_name(record.name + ".damaged").exists()


def test_rows_of_an_older_results_file_are_adopted_only_when_final(tmp_path):
    samples = fake_samples(3, spaces=("S",))
    out = tmp_path / "r.parquet"
    first = train_samples(samples, out, _options())
    assert first.trained == {"ok": 3}
    shutil.rmtree(tmp_path / "r.parquet.run")  # as written by a dsd train without run folders
    table = pd.read_parquet(out)
    table.loc[1, "top1_err"] = float("nan")  # "ok" without an error: not a finished model
    table.to_parquet(out)
    again = train_samples(samples, out, _options())
    assert again.skipped == 2 and again.trained == {"ok": 1}
    assert pd.read_parquet(out)["top1_err"].notna().all()


def test_no_row_of_an_older_results_file_is_lost_by_a_refused_or_partial_run(tmp_path):
    samples = fake_samples(3, spaces=("S",))
    out = tmp_path / "r.parquet"
    train_samples(samples, out, _options())
    shutil.rmtree(tmp_path / "r.parquet.run")  # as written by a dsd train without run folders
    table = pd.read_parquet(out)
    table.loc[1, "top1_err"] = float("nan")  # not final: to be trained again
    table.to_parquet(out)
    before = out.read_bytes()
    with pytest.raises(DsdError, match="not a readable directory"):
        train_samples(samples, out, _options(FakeTrainer(unreadable_data=True)))
    assert out.read_bytes() == before and not (tmp_path / "r.parquet.run").exists()
    partial = train_samples(samples, out, _options(limit=0))
    assert partial.trained == {} and len(pd.read_parquet(out)) == 3  # the row waits, kept
    assert train_samples(samples, out, _options()).trained == {"ok": 1}
    assert pd.read_parquet(out)["top1_err"].notna().all() and len(pd.read_parquet(out)) == 3


# -- design ids ------------------------------------------------------------------------------
def test_two_designs_of_one_model_are_both_trained_and_adopted_by_design(tmp_path):
    samples = fake_samples(2, spaces=("RegNetX",)).assign(design_id=["d1", "d2"])
    samples.loc[1, "model_id"] = samples.loc[0, "model_id"]  # one network, two drawn designs
    out = tmp_path / "r.parquet"
    assert train_samples(samples, out, _options()).trained == {"ok": 2}
    table = pd.read_parquet(out)
    assert table["design_id"].tolist() == ["d1", "d2"]
    again = train_samples(samples, out, _options())
    assert again.skipped == 2 and again.trained == {}
    repeated = pd.concat([samples, samples.iloc[[1]]], ignore_index=True)  # a design twice
    assert train_samples(repeated, out, _options()).skipped == 2  # one row a design


# -- the samples file, the resume command, devices and workers ------------------------------
def test_a_deleted_samples_file_is_sampled_again_and_the_run_resumes(tmp_path, capsys):
    exp = parse_experiment({**TINY, "n": 2}, "e.yaml")
    run = tmp_path / "run"
    options = experiment_options(exp, trainer=FakeTrainer(), executor=LOCAL, progress=False)
    assert run_experiment(exp, run, options, report=False).sweep.counts == {"ok": 2}
    (run / "samples.parquet").unlink()
    again = run_experiment(exp, run, options, report=False).sweep
    assert again.trained == 0 and again.counts == {"ok": 2}
    assert "samples.parquet was missing; written again" in capsys.readouterr().err
    assert (run / "samples.parquet").exists()


def test_a_damaged_samples_file_is_written_again_from_the_same_samples(tmp_path, capsys):
    out = tmp_path / "r.parquet"
    train_samples(fake_samples(2), out, _options())
    (tmp_path / "r.parquet.run" / "samples.parquet").write_bytes(b"PAR1 half a file")
    again = train_samples(fake_samples(2), out, _options())
    assert again.skipped == 4 and again.trained == {}
    assert "samples.parquet was damaged; written again" in capsys.readouterr().err
    assert len(pd.read_parquet(tmp_path / "r.parquet.run" / "samples.parquet")) == 4


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ({"lr": [[0.1, 0.2]] * 4}, "column lr, row 0: '[0.1 0.2]' is not a number"),
        ({"model_id": [[1, 2]] * 4}, "column model_id, row 0: '[1 2]' is not a name"),
        ({"train_seed": ["x"] * 4}, "column train_seed, row 0: 'x' is not a number"),
    ],
)
def test_a_damaged_results_file_to_resume_is_refused_in_one_line(tmp_path, damage, message):
    out = tmp_path / "r.parquet"
    train_samples(fake_samples(2), out, _options())
    pd.read_parquet(out).assign(**damage).to_parquet(out)
    with pytest.raises(DsdError, match=re.escape(message)):
        train_samples(fake_samples(2), out, _options())


@pytest.mark.parametrize("space", [float("nan"), "", 3])
def test_samples_whose_space_is_not_a_name_are_refused(tmp_path, space):
    samples = fake_samples(2).astype({"space": object})
    samples.loc[1, "space"] = space
    with pytest.raises(DsdError, match="samples table: space holds"):
        run_sweep(samples, tmp_path / "run", _options())
    assert not (tmp_path / "run").exists()


def test_other_samples_without_the_samples_file_are_refused_saying_so(tmp_path):
    run_sweep(fake_samples(2), tmp_path / "run", _options())
    (tmp_path / "run" / "samples.parquet").unlink()
    with pytest.raises(
        DsdError, match=r"holds another sweep .*\(and its samples.parquet is missing\)"
    ):
        run_sweep(fake_samples(3), tmp_path / "run", _options())


def test_status_names_the_command_that_made_the_run(tmp_path, capsys, one_torch_thread):
    from trainer_fixtures import tiny_net, write_samples

    samples = write_samples(tmp_path / "s.parquet", [tiny_net(16)])
    out = tmp_path / "r.parquet"
    argv = ["train", str(samples), "-o", str(out), "--epochs", "1", "--batch-size", "64"]
    assert main([*argv, "--no-progress"]) == 0
    start = capsys.readouterr().err.strip().splitlines()[0]
    assert start.startswith("dsd train: 1 of 1 models to train (0 done) with 1 worker on the CPU")
    assert main(["status", str(out) + ".run"]) == 0
    status = capsys.readouterr().out
    resume = f"dsd train {samples} -o {out} --epochs 1 --batch-size 64"
    assert f"driver   none (run `{resume}` again to resume)" in status
    assert "workers  1 worker on the CPU" in status
    exp = _write(tmp_path / "e.yaml", TINY)
    assert main(["run", exp, "-o", str(tmp_path / "run"), "--quiet", "--no-report"]) == 0
    start = capsys.readouterr().err.strip().splitlines()[0]
    assert "1 of 1 models to train (0 done) with 1 worker on the CPU, 1 thread each" in start
    assert "; estimated " in start
    assert main(["status", str(tmp_path / "run")]) == 0
    assert f"run `dsd run {exp} -o {tmp_path / 'run'}` again" in capsys.readouterr().out


def test_status_of_an_older_train_folder_guesses_its_command(tmp_path):
    folder = tmp_path / "r.parquet.run"
    run_sweep(fake_samples(1), folder, _options())
    (folder / "run.json").unlink()  # as dsd train wrote them before 0.2
    assert f"dsd train SAMPLES -o {tmp_path / 'r.parquet'}" in run_status(folder).describe()


def test_a_gpu_request_on_a_machine_without_cuda_is_refused_before_anything(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(exec_local, "cuda_available", lambda: False)
    run = tmp_path / "g"
    assert main(["run", "digits_anynetx", "-o", str(run), "--gpus", "1"]) == 2
    _one_line(capsys, "executor gpus 1: no GPU is usable here")
    assert not run.exists()
    exp = _write(tmp_path / "e.yaml", {**TINY, "recipe": {**TINY["recipe"], "device": "cuda"}})
    assert main(["run", exp, "-o", str(run)]) == 2
    _one_line(capsys, "device cuda: no GPU is usable here")
    assert not run.exists()


def test_a_two_gpu_machine_gets_one_worker_a_gpu_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(exec_local, "cuda_available", lambda: True)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    starts = []
    settings = ExecutorSettings(gpus=2)
    options = SweepOptions(
        trainer=FakeTrainer(), executor=settings, progress=False, on_start=starts.append
    )
    summary = run_sweep(fake_samples(2), tmp_path / "run", options)
    assert starts[0].describe() == "4 of 4 models to train (0 done) with 2 workers on GPUs 0, 1"
    assert set(pd.read_parquet(summary.results)["worker_gpus"]) == {"0", "1"}
    assert "workers  2 workers on GPUs 0, 1" in run_status(tmp_path / "run").describe()
    with pytest.raises(DsdError, match=r"executor gpus 3: only 2 usable here \(0, 1\)"):
        run_sweep(
            fake_samples(2),
            tmp_path / "other",
            SweepOptions(trainer=FakeTrainer(), executor=ExecutorSettings(gpus=3), progress=False),
        )
    assert not (tmp_path / "other").exists()
    shared = exec_local.LocalExecutor(ExecutorSettings(models_per_gpu=2))
    assert shared.describe() == "4 workers on GPUs 0, 1, 2 models a GPU"


def test_a_table_whose_column_mixes_text_and_numbers_is_one_line_and_no_file(tmp_path):
    from dsd.io import write_table

    with pytest.raises(DsdError, match="a column holds values of mixed types"):
        write_table(pd.DataFrame({"model_id": ["a", 1.5]}), tmp_path / "t.parquet")
    assert list(tmp_path.iterdir()) == []


def test_a_run_folder_named_with_a_byte_that_is_not_utf8_works(tmp_path):
    folder = tmp_path / os.fsdecode(b"r\xfe")
    summary = run_sweep(fake_samples(2), folder, _options())
    from dsd.io import read_table

    assert summary.counts == {"ok": 4} and len(read_table(summary.results)) == 4
    assert run_status(folder).total == 4
