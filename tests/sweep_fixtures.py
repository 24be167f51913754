"""Helpers for the sweep tests: a driver process to kill, trace-file readers, waiting.

Run as a script it is a sweep driver over fake models (``dsd.sweep.testing``)::

    python tests/sweep_fixtures.py RUN_DIR --n 10 --seconds 0.5 --slots 2 --trace T [--kind slurm]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve()


def driver_command(run_dir: Path, trace: Path, **opts) -> list[str]:
    """The command line of a fake-sweep driver process."""
    cmd = [sys.executable, str(HERE), str(run_dir), "--trace", str(trace)]
    for key, value in opts.items():
        if value is not None:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    return cmd


def start_driver(run_dir: Path, trace: Path, **opts) -> subprocess.Popen:
    """Start a fake-sweep driver in its own process (stdout/stderr to RUN_DIR/../driver.log)."""
    log = open(run_dir.parent / f"{run_dir.name}.driver.log", "ab")
    return subprocess.Popen(driver_command(run_dir, trace, **opts), stdout=log, stderr=log)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms until true; fail with ``what`` after ``timeout`` s."""
    end = time.time() + timeout
    while not predicate():
        if time.time() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def trace_lines(trace: Path) -> list[list[str]]:
    """The trace file's lines as [event, model_id, pid, seed]."""
    if not trace.exists():
        return []
    return [line.split() for line in trace.read_text().splitlines() if line.strip()]


def counts(trace: Path, event: str) -> Counter[str]:
    """How often each model id had ``event`` (start / end)."""
    return Counter(parts[1] for parts in trace_lines(trace) if parts[0] == event)


def records(run_dir: Path) -> list[str]:
    """Task ids with a record."""
    d = run_dir / "records"
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def main(argv: list[str] | None = None) -> int:
    """Drive a fake sweep (see the module docstring)."""
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("--trace", required=True)
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--seconds", type=float, default=0.2)
    p.add_argument("--slots", type=int, default=2)
    p.add_argument("--kind", default="local")
    p.add_argument("--max-retries", type=int, default=2)
    p.add_argument("--stale-s", type=float, default=60.0)
    p.add_argument("--heartbeat-s", type=float, default=10.0)
    args = p.parse_args(argv)

    from dsd.sweep import ExecutorSettings, SweepOptions, run_sweep
    from dsd.sweep.testing import FakeTrainer, fake_samples

    settings = ExecutorSettings(
        kind=args.kind,
        slots=args.slots,
        threads_per_slot=1,
        max_retries=args.max_retries,
        max_parallel=args.slots,
        time_min=5,
        stale_s=args.stale_s,
        heartbeat_s=args.heartbeat_s,
    )
    trainer = FakeTrainer(seconds=args.seconds, trace=args.trace)
    options = SweepOptions(trainer=trainer, executor=settings, progress=False)
    summary = run_sweep(fake_samples(args.n), args.run_dir, options)
    print(summary.describe(), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
