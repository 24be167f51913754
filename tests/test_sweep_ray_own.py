"""The Ray executor starts its own small local runtime when none runs, and stops it on close."""

from __future__ import annotations

import pytest

from dsd.sweep.driver import run_samples
from dsd.sweep.executors import ExecutorSettings
from dsd.sweep.testing import FakeConfig, fake_samples, fake_train

ray = pytest.importorskip("ray")


def test_ray_executor_starts_and_stops_its_own_runtime(tmp_path):
    assert not ray.is_initialized()
    settings = ExecutorSettings(kind="ray", slots=2)
    summary = run_samples(
        fake_samples(3),
        tmp_path / "run",
        FakeConfig(),
        settings=settings,
        work=fake_train,
        progress=False,
    )
    assert summary.counts == {"ok": 6}
    assert not ray.is_initialized()  # shut down on close
