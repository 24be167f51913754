"""The Slurm executor's own logic against fake ``sbatch`` / ``sacct`` / ``scancel`` / ``srun``
commands (as submitit tests itself): arrays and their parallelism cap, topping up as jobs end,
outcomes of finished and dead jobs, cancelling on close, the 1000-task array limit. Runs
anywhere, in a second; the real cluster is exercised by test_sweep_slurm.py.
"""

from __future__ import annotations

import os
import pickle
import random
import stat
from pathlib import Path

import pytest

from dsd.sweep import ExecutorSettings, Outcome, RunFolder, Task, exec_slurm, make_executor
from dsd.sweep.exec_slurm import SlurmExecutor
from dsd.sweep.task import DONE, LOST
from dsd.sweep.testing import FakeTrainer, fake_samples

SCRIPTS = {
    # sbatch FILE: a new job id; remember the array spec of the script ("-": not an array)
    "sbatch": """id=$(( $(cat "$D/next_id") + 1 )); echo "$id" > "$D/next_id"
arr=$(sed -n 's/^#SBATCH --array=//p' "$1" | head -n 1)
echo "$id ${arr:--} $1" >> "$D/submitted"
echo "Submitted batch job $id"
""",
    # sacct ...: the states the test wrote, in sacct --parsable2 form
    "sacct": """echo "JobID|State|NodeList"
[ -f "$D/states" ] && while read -r j s; do echo "$j|$s|node1"; done < "$D/states"
exit 0
""",
    "scancel": 'echo "$@" >> "$D/cancelled"\n',
    "squeue": "exit 0\n",
    "srun": "exit 0\n",
}


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """A folder of fake Slurm commands first on PATH; returns the folder with their logs."""
    d = tmp_path / "fake_slurm"
    d.mkdir()
    (d / "next_id").write_text(str(random.randrange(10**7, 10**8)))  # no clash with real ids
    for name, body in SCRIPTS.items():
        p = d / name
        p.write_text(f"#!/usr/bin/env bash\nD={d}\n{body}")
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{d}{os.pathsep}{os.environ['PATH']}")
    return d


def submitted(d: Path) -> list[tuple[str, str]]:
    """(job id, array spec) of every sbatch call."""
    if not (d / "submitted").exists():
        return []
    return [tuple(line.split()[:2]) for line in (d / "submitted").read_text().splitlines()]


def set_state(d: Path, job_id: str, state: str) -> None:
    with open(d / "states", "a") as f:
        f.write(f"{job_id} {state}\n")


def finish(job, outcome: Outcome) -> None:
    """What submitit's job-side code leaves when a task returns ``outcome``."""
    job.paths.result_pickle.parent.mkdir(parents=True, exist_ok=True)
    with open(job.paths.result_pickle, "wb") as f:
        pickle.dump(("success", outcome), f)


def tasks(run_dir: Path, n: int) -> list[Task]:
    rows = [{**r, "depths": list(r["depths"])} for r in fake_samples(n, ("S",)).to_dict("records")]
    return [Task(f"t{i}", r, FakeTrainer(), RunFolder(run_dir)) for i, r in enumerate(rows)]


SETTINGS = ExecutorSettings(kind="slurm", max_parallel=2, max_retries=1, time_min=5)


def test_arrays_respect_the_cap_and_top_up_as_jobs_end(fake_slurm, tmp_path):
    ex = SlurmExecutor(SETTINGS, RunFolder(tmp_path))
    try:
        ex.submit(tasks(tmp_path, 3))
        ((first, spec),) = submitted(fake_slurm)
        assert spec == "0-1%2"  # two tasks, two at once: the cap
        assert sorted(ex.job_ids()) == [f"{first}_0", f"{first}_1"]
        jobs = {job.job_id: job for job in ex._jobs}
        finish(jobs[f"{first}_0"], Outcome("t0", DONE, "ok"))
        set_state(fake_slurm, f"{first}_0", "COMPLETED")
        set_state(fake_slurm, f"{first}_1", "FAILED")  # died without a result: node lost
        outcomes = {o.task_id: o for o in ex.poll(5.0)}
        assert outcomes["t0"] == Outcome("t0", DONE, "ok")
        assert outcomes["t1"].kind == LOST and f"slurm job {first}_1 ended" in outcomes["t1"].reason
        (_, (second, spec2)) = submitted(fake_slurm)  # room again: the third task went out
        assert spec2 == "-" and ex.job_ids() == [second]  # submitit sends one task as a job
    finally:
        ex.close()
    assert (fake_slurm / "cancelled").read_text().split()[0] == second
    assert ex.job_ids() == []


def test_polling_returns_nothing_while_jobs_run(fake_slurm, tmp_path):
    ex = SlurmExecutor(SETTINGS, RunFolder(tmp_path))
    try:
        ex.submit(tasks(tmp_path, 1))
        ((job_id, _),) = submitted(fake_slurm)
        set_state(fake_slurm, job_id, "RUNNING")
        assert ex.poll(0.5) == []
        assert ex.job_ids() == [job_id]
    finally:
        ex.close()


def test_more_tasks_than_an_array_holds_go_out_as_several_arrays(fake_slurm, tmp_path, monkeypatch):
    monkeypatch.setattr(exec_slurm, "MAX_ARRAY", 4)
    settings = ExecutorSettings(kind="slurm", max_parallel=None, time_min=5)
    ex = SlurmExecutor(settings, RunFolder(tmp_path))
    try:
        ex.submit(tasks(tmp_path, 10))
        assert [spec for _, spec in submitted(fake_slurm)] == ["0-3%4", "0-3%4", "0-1%2"]
        assert len(ex.job_ids()) == 10
    finally:
        ex.close()
    assert len((fake_slurm / "cancelled").read_text().splitlines()) == 10


def test_slurm_parameters_follow_the_settings():
    s = ExecutorSettings(
        kind="slurm", partition="gpu", time_min=0.5, gpus_per_task=1.5, cpus_per_task=4, mem_gb=8
    )
    p = exec_slurm.slurm_parameters(s)
    assert p == {
        "timeout_min": 1,  # rounded up, at least a minute
        "cpus_per_task": 4,
        "name": "dsd-sweep",
        "slurm_partition": "gpu",
        "gpus_per_node": 2,
        "mem_gb": 8,
    }


def test_no_slurm_commands_is_one_clear_error(tmp_path, monkeypatch):
    from dsd.errors import DsdError

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DsdError, match="sbatch, srun, sacct, scancel not found on PATH"):
        make_executor(SETTINGS, RunFolder(tmp_path))


def test_the_slurm_tests_say_why_they_cannot_run(tmp_path, monkeypatch):
    from conftest import START, slurm_state

    monkeypatch.setenv("PATH", str(tmp_path))
    assert slurm_state() == "no Slurm on this machine (sinfo not found)"
    sinfo = tmp_path / "sinfo"
    sinfo.write_text("#!/bin/sh\necho down\n")
    sinfo.chmod(0o755)
    assert slurm_state() == "no usable Slurm node (sinfo: down)"
    sinfo.write_text("#!/bin/sh\necho idle\n")
    assert slurm_state() == ""
    assert START == "sudo bash ci/slurm/start.sh"  # the command the skip message names
    assert (Path(__file__).parents[1] / "ci" / "slurm" / "start.sh").is_file()


def test_jobs_whose_state_cannot_be_read_end_the_sweep_in_one_line(fake_slurm, tmp_path):
    from dsd.errors import DsdError

    class Unreadable:
        job_id = "1_0"

        def done(self, force_check=False):
            raise RuntimeError("sacct: error\nslurmdbd: connection refused")

        def cancel(self, check=False):
            pass

    ex = SlurmExecutor(SETTINGS, RunFolder(tmp_path))
    ex._jobs[Unreadable()] = "t0"
    with pytest.raises(DsdError, match=r"slurm: cannot read the jobs' states \(slurmdbd: conn"):
        ex.poll(0.1)
    ex.close()
