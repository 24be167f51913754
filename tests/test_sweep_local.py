"""The sweep on the local executor: retries, divergence, resume, and surviving SIGKILL.

The trainer is dsd.sweep.testing.FakeTrainer, which logs every start and end to a trace file,
so a test can count how often each model was trained.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from sweep_fixtures import counts, pid_alive, records, start_driver, trace_lines, wait_for

from dsd.errors import DataError, DsdError
from dsd.sweep import ExecutorSettings, RunFolder, SweepOptions, collect, run_status, run_sweep
from dsd.sweep.testing import FakeTrainer, fake_samples

SETTINGS = ExecutorSettings(slots=2, threads_per_slot=1, max_retries=2)


def _run(tmp_path, samples, trainer, settings=SETTINGS, **kw):
    options = SweepOptions(trainer=trainer, executor=settings, progress=False, **kw)
    return run_sweep(samples, tmp_path / "run", options)


def test_raising_model_is_retried_then_failed_diverged_is_not_retried(tmp_path):
    samples = fake_samples(4)
    ids = list(samples["model_id"])
    trace = tmp_path / "trace"
    trainer = FakeTrainer(fail=(ids[0],), flaky=(ids[1],), diverge=(ids[2],), trace=str(trace))
    summary = _run(tmp_path, samples, trainer)
    assert summary.counts == {"ok": 6, "failed": 1, "diverged": 1}
    starts = counts(trace, "start")
    assert starts[ids[0]] == 3  # 1 attempt + max_retries 2
    assert starts[ids[1]] == 2  # failed once, then ok
    assert starts[ids[2]] == 1  # diverged: final, never retried
    assert all(starts[m] == 1 for m in ids[3:])
    df = pd.read_parquet(summary.results)
    assert len(df) == 8 and df["task_id"].is_unique
    failed = df.set_index("model_id").loc[ids[0]]
    assert failed["status"] == "failed" and "fake failure" in failed["reason"]
    assert "after 3 attempts" in failed["reason"]
    assert df.set_index("model_id").loc[ids[1], "status"] == "ok"


def test_resume_trains_nothing_and_collect_is_idempotent(tmp_path):
    samples = fake_samples(5)
    trace = tmp_path / "trace"
    first = _run(tmp_path, samples, FakeTrainer(trace=str(trace)))
    before = pd.read_parquet(first.results)
    again = _run(tmp_path, samples, FakeTrainer(trace=str(trace)))
    assert again.trained == 0
    assert sum(counts(trace, "start").values()) == 10
    collect(tmp_path / "run")
    pd.testing.assert_frame_equal(before, pd.read_parquet(tmp_path / "run" / "results.parquet"))


def test_retry_failed_retrains_only_failed_models(tmp_path):
    samples = fake_samples(3)
    bad = samples["model_id"][0]
    trace = tmp_path / "trace"
    _run(tmp_path, samples, FakeTrainer(fail=(bad,), trace=str(trace)))
    summary = _run(tmp_path, samples, FakeTrainer(trace=str(trace)), retry_failed=True)
    assert summary.counts == {"ok": 6}
    assert counts(trace, "end")[bad] == 1 and sum(counts(trace, "end").values()) == 6


def test_a_different_sweep_in_the_same_run_dir_is_refused(tmp_path):
    _run(tmp_path, fake_samples(2), FakeTrainer())
    with pytest.raises(DsdError, match="holds another sweep"):
        _run(tmp_path, fake_samples(3), FakeTrainer())


def test_sigkill_of_the_driver_then_resume_loses_and_repeats_nothing(tmp_path):
    run_dir, trace = tmp_path / "run", tmp_path / "trace"
    n = 12  # 24 models, 0.25 s each, 2 workers
    driver = start_driver(run_dir, trace, n=n, seconds=0.25, slots=2)
    wait_for(lambda: len(records(run_dir)) >= 6, 60, "6 records")
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    done_at_kill = set(records(run_dir))
    lines_at_kill = len(trace_lines(trace))
    workers = {int(parts[2]) for parts in trace_lines(trace)}
    wait_for(lambda: not any(pid_alive(p) for p in workers), 10, "workers to die with the driver")
    assert RunFolder(run_dir).driver() is None  # the kernel dropped the dead driver's lock

    resumed = start_driver(run_dir, trace, n=n, seconds=0.25, slots=2)
    assert resumed.wait(timeout=90) == 0
    assert len(records(run_dir)) == 2 * n
    for path in (run_dir / "records").iterdir():  # no corrupt file, no leftover temp file
        assert not path.name.startswith("."), path
        json.loads(path.read_text())
    after = trace_lines(trace)[lines_at_kill:]
    ids_done_at_kill = {
        json.loads((run_dir / "records" / f"{t}.json").read_text())["model_id"]
        for t in done_at_kill
    }
    assert not [p for p in after if p[1] in ids_done_at_kill], "a finished model was retrained"
    df = pd.read_parquet(run_dir / "results.parquet")
    assert len(df) == 2 * n and df["task_id"].is_unique and (df["status"] == "ok").all()


def test_sigkill_of_a_worker_is_retried(tmp_path):
    run_dir, trace = tmp_path / "run", tmp_path / "trace"
    driver = start_driver(run_dir, trace, n=3, seconds=1.5, slots=2)
    claims = run_dir / "claims"
    wait_for(lambda: claims.is_dir() and any(claims.glob("*.json")), 60, "a claim")
    victim = next(claims.glob("*.json"))
    pid = json.loads(victim.read_text())["pid"]
    # the claim is written just before training starts: kill once the model is training
    started = lambda: any(p[0] == "start" and int(p[2]) == pid for p in trace_lines(trace))  # noqa: E731
    wait_for(started, 60, "the claimed model to start")
    os.kill(pid, signal.SIGKILL)
    assert driver.wait(timeout=90) == 0
    task = victim.stem
    reasons = [p.read_text() for p in (run_dir / "attempts").glob(f"{task}.*")]
    assert reasons == ["worker process died (signal 9)"]
    rec = json.loads((run_dir / "records" / f"{task}.json").read_text())
    assert rec["status"] == "ok"
    assert counts(trace, "start")[rec["model_id"]] == 2
    assert counts(trace, "end")[rec["model_id"]] == 1
    assert len(records(run_dir)) == 6


def test_a_second_driver_on_the_same_run_dir_is_refused(tmp_path):
    run_dir, trace = tmp_path / "run", tmp_path / "trace"
    first = start_driver(run_dir, trace, n=4, seconds=0.5, slots=2)
    try:
        wait_for(lambda: (run_dir / "tasks.json").exists(), 60, "the first driver's task list")
        with pytest.raises(DsdError, match=f"in use by another driver \\(pid {first.pid} on"):
            _run(tmp_path, fake_samples(4), FakeTrainer(trace=str(trace)))
        assert f"pid {first.pid}" in run_status(run_dir).describe()
        assert first.wait(timeout=90) == 0
    finally:
        first.kill()
    assert sum(counts(trace, "end").values()) == 8  # the refused driver trained nothing


def test_status_counts_done_running_pending(tmp_path):
    run_dir, trace = tmp_path / "run", tmp_path / "trace"
    driver = start_driver(run_dir, trace, n=5, seconds=0.6, slots=2)
    try:
        wait_for(lambda: len(records(run_dir)) >= 2, 60, "2 records")
        st = run_status(run_dir)
        assert st.total == 10 and st.driver is not None
        assert sum(st.done.values()) + st.running + st.pending == 10
        assert st.running <= 2 and sum(st.done.values()) >= 2
        assert st.eta_s is not None and st.eta_s > 0 and "models/min" in st.describe()
        assert driver.wait(timeout=90) == 0
    finally:
        driver.kill()
    st = run_status(run_dir)
    assert st.done == {"ok": 10} and st.pending == 0 and st.eta_s == 0
    assert "ETA      finished" in st.describe()
    assert st.by_space == {"FakeA": (5, 5), "FakeB": (5, 5)}


def test_many_writers_never_leave_a_partial_record(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    store = RunFolder(tmp_path).create()
    payload = {"status": "ok", "top1_err": 0.5, "curve": list(range(5000))}

    def write(i):
        store.write_record("same", {**payload, "writer": i})
        rec = store.read_record("same")
        assert rec is not None and len(rec["curve"]) == 5000

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(200)))
    assert [p.name for p in (tmp_path / "records").iterdir()] == ["same.json"]


def test_a_data_set_that_cannot_be_loaded_stops_the_sweep(tmp_path):
    with pytest.raises(DataError, match="no such folder /nowhere"):
        _run(tmp_path, fake_samples(3), FakeTrainer(data_error=True))
    assert records(tmp_path / "run") == []  # a run-level problem is not a model's failure
    assert not list((tmp_path / "run" / "attempts").iterdir())
    assert _run(tmp_path, fake_samples(3), FakeTrainer()).counts == {"ok": 6}  # lock released


def test_a_model_over_its_time_limit_is_stopped_and_counted_as_failed(tmp_path):
    settings = ExecutorSettings(slots=2, max_retries=0, time_min=0.03)  # 1.8 s
    samples = fake_samples(1, spaces=("S",))
    t0 = time.time()
    summary = _run(tmp_path, samples, FakeTrainer(seconds=60), settings=settings)
    assert time.time() - t0 < 30
    rec = pd.read_parquet(summary.results).iloc[0]
    assert rec["status"] == "failed" and "timed out after 0.03 min" in rec["reason"]


THREADS_SCRIPT = """
import dataclasses, sys
import torch  # before the worker's environment, as a user's script may import it
from dsd.sweep import ExecutorSettings, SweepOptions, collect, run_sweep
from dsd.sweep.testing import FakeTrainer, fake_samples


@dataclasses.dataclass(frozen=True)
class ThreadsTrainer(FakeTrainer):
    def train(self, row):
        return {**super().train(row), "reason": f"threads={torch.get_num_threads()}"}


if __name__ == "__main__":
    torch.set_num_threads(2)
    settings = ExecutorSettings(slots=1, threads_per_slot=1)
    opts = SweepOptions(trainer=ThreadsTrainer(), executor=settings, progress=False)
    run_sweep(fake_samples(2), sys.argv[1], opts)
    print(sorted(set(collect(sys.argv[1])["reason"])))
"""


def test_a_worker_uses_its_thread_count_when_the_main_script_imported_torch(tmp_path):
    # A spawned worker re-runs the parent's main module: its `import torch` came before the
    # worker's OMP_NUM_THREADS, which torch then ignored (a 2-thread worker per slot, ~5x slower
    # on 2 cores); the worker sets the count itself.
    script = tmp_path / "user_script.py"
    script.write_text(THREADS_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
        },
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "['threads=1']"
