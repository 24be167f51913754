"""The Ray executor starts its own small local runtime when none runs, and stops it on close."""

from __future__ import annotations

import pytest

from dsd.sweep import ExecutorSettings, SweepOptions, run_sweep
from dsd.sweep.testing import FakeTrainer, fake_samples

ray = pytest.importorskip("ray")


def test_ray_executor_starts_and_stops_its_own_runtime(tmp_path):
    assert not ray.is_initialized()
    settings = ExecutorSettings(kind="ray", slots=2)
    options = SweepOptions(trainer=FakeTrainer(), executor=settings, progress=False)
    summary = run_sweep(fake_samples(3), tmp_path / "run", options)
    assert summary.counts == {"ok": 6}
    assert not ray.is_initialized()  # shut down on close
