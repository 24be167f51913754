"""The sweep on a real local Ray runtime (2 CPUs, no dashboard), started by these tests."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest
from sweep_fixtures import counts, records, wait_for

from dsd.sweep import ExecutorSettings, SweepOptions, run_sweep
from dsd.sweep.testing import FakeTrainer, fake_samples

ray = pytest.importorskip("ray")
SETTINGS = ExecutorSettings(kind="ray", max_retries=1, cpus_per_task=1)


@pytest.fixture(scope="module")
def ray_runtime():
    """A local Ray runtime for this module; the executor joins it instead of starting one."""
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20)
    try:
        yield
    finally:
        ray.shutdown()


def _run(tmp_path, samples, trainer):
    options = SweepOptions(trainer=trainer, executor=SETTINGS, progress=False)
    return run_sweep(samples, tmp_path / "run", options)


def test_ray_sweep_retries_failures_and_records_divergence(ray_runtime, tmp_path):
    samples = fake_samples(4)
    ids = list(samples["model_id"])
    trace = tmp_path / "trace"
    trainer = FakeTrainer(fail=(ids[0],), diverge=(ids[1],), flaky=(ids[2],), trace=str(trace))
    summary = _run(tmp_path, samples, trainer)
    assert summary.counts == {"ok": 6, "failed": 1, "diverged": 1}
    starts = counts(trace, "start")
    assert (starts[ids[0]], starts[ids[1]], starts[ids[2]]) == (2, 1, 2)
    pids = {int(line.split()[2]) for line in trace.read_text().splitlines()}
    assert os.getpid() not in pids  # trained in Ray workers
    assert ray.is_initialized()  # the executor joined the runtime and left it running


def test_ray_worker_killed_mid_model_is_retried(ray_runtime, tmp_path):
    run_dir, trace = tmp_path / "run", tmp_path / "trace"
    samples = fake_samples(2)
    claims = run_dir / "claims"
    killed = {}

    def kill_one():
        wait_for(lambda: claims.is_dir() and any(claims.glob("*.json")), 60, "a claim")
        victim = next(claims.glob("*.json"))
        killed["task"] = victim.stem
        os.kill(json.loads(victim.read_text())["pid"], signal.SIGKILL)

    killer = threading.Thread(target=kill_one)
    killer.start()
    summary = _run(tmp_path, samples, FakeTrainer(seconds=1.5, trace=str(trace)))
    killer.join()
    assert summary.counts == {"ok": 4} and len(records(run_dir)) == 4
    attempts = list((run_dir / "attempts").glob(f"{killed['task']}.*"))
    assert len(attempts) == 1 and "ray task ended" in attempts[0].read_text()
    assert sorted(counts(trace, "end").values()) == [1, 1, 1, 1]
