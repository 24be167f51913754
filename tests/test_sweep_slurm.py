"""The sweep on a real single-node Slurm cluster (see conftest.slurm_cluster), through submitit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pandas as pd
from sweep_fixtures import counts, records, start_driver, wait_for

from dsd.sweep import ExecutorSettings, RunFolder, SweepOptions, Task, run_sweep
from dsd.sweep.exec_slurm import SlurmExecutor
from dsd.sweep.task import DONE
from dsd.sweep.testing import FakeTrainer, fake_samples

SETTINGS = ExecutorSettings(kind="slurm", max_parallel=2, max_retries=1, time_min=5)


def _queue_empty() -> bool:
    """No job of ours is left in the Slurm queue."""
    out = subprocess.run(["squeue", "-h", "-n", "dsd-sweep"], capture_output=True, text=True)
    return out.stdout.strip() == ""


def test_slurm_sweep_retries_failures_and_records_divergence(slurm_cluster, tmp_path):
    samples = fake_samples(3)
    ids = list(samples["model_id"])
    trace = tmp_path / "trace"
    trainer = FakeTrainer(fail=(ids[0],), diverge=(ids[1],), trace=str(trace))
    options = SweepOptions(trainer=trainer, executor=SETTINGS, progress=False)
    summary = run_sweep(samples, tmp_path / "run", options)
    assert summary.counts == {"ok": 4, "failed": 1, "diverged": 1}
    assert counts(trace, "start")[ids[0]] == 2 and counts(trace, "start")[ids[1]] == 1
    df = pd.read_parquet(summary.results)
    assert len(df) == 6 and df["task_id"].is_unique
    pids = {int(line.split()[2]) for line in trace.read_text().splitlines()}
    assert os.getpid() not in pids  # the models ran in Slurm jobs, not in this process
    assert any((tmp_path / "run" / "slurm").iterdir())  # submitit's job folders


def test_slurm_jobs_outlive_a_killed_driver_and_resume_trains_nothing_twice(
    slurm_cluster, tmp_path
):
    run_dir, trace = tmp_path / "run", tmp_path / "trace"
    opts = {"n": 2, "seconds": 3.0, "slots": 2, "kind": "slurm"}
    driver = start_driver(run_dir, trace, **opts)
    wait_for(lambda: counts(trace, "start"), 90, "a model to start in a Slurm job")
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    running_at_kill = set(counts(trace, "start"))
    resumed = start_driver(run_dir, trace, **opts)
    assert resumed.wait(timeout=180) == 0
    assert len(records(run_dir)) == 4
    ends = counts(trace, "end")
    assert sorted(ends.values()) == [1, 1, 1, 1], ends  # every model trained exactly once
    starts = counts(trace, "start")
    assert all(starts[m] == 1 for m in running_at_kill)  # their jobs went on; not started again
    wait_for(_queue_empty, 60, "the killed driver's jobs to drain")


def test_slurm_preempted_model_is_requeued_and_trained_once(slurm_cluster, tmp_path):
    store = RunFolder((tmp_path / "run").resolve()).create()
    trace = tmp_path / "trace"
    row = fake_samples(1).iloc[0].to_dict()
    row["depths"] = list(row["depths"])
    task = Task("m0", row, FakeTrainer(seconds=5, trace=str(trace)), store)
    ex = SlurmExecutor(SETTINGS, store)
    try:
        ex.submit([task])
        wait_for(lambda: counts(trace, "start"), 90, "the model to start")
        (job,) = ex._jobs
        job._interrupt()  # what Slurm does on preemption: SIGTERM, then submitit's USR2
        t0, outcomes = time.time(), []
        while not outcomes and time.time() - t0 < 120:
            outcomes = ex.poll(1.0)
    finally:
        ex.close()
    assert [o.kind for o in outcomes] == [DONE] and outcomes[0].status == "ok"
    assert counts(trace, "start")[row["model_id"]] == 2  # preempted once, requeued once
    assert counts(trace, "end")[row["model_id"]] == 1
    rec = json.loads(store.record_path("m0").read_text())
    assert rec["status"] == "ok"


def test_slurm_never_queues_more_than_max_parallel(slurm_cluster, tmp_path):
    store = RunFolder((tmp_path / "run").resolve()).create()
    rows = [{**r, "depths": list(r["depths"])} for r in fake_samples(5, ("S",)).to_dict("records")]
    tasks = [Task(f"t{i}", r, FakeTrainer(), store) for i, r in enumerate(rows)]
    ex = SlurmExecutor(SETTINGS, store)  # max_parallel=2
    try:
        ex.submit(tasks)
        assert len(ex.job_ids()) == 2
        outcomes, t0 = [], time.time()
        while len(outcomes) < 5 and time.time() - t0 < 120:
            outcomes += ex.poll(1.0)
            assert len(ex.job_ids()) <= 2
    finally:
        ex.close()
    assert sorted(o.task_id for o in outcomes) == [f"t{i}" for i in range(5)]
    assert all(o.kind == DONE and o.status == "ok" for o in outcomes)
