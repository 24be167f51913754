"""Scheduling overhead of the sweep per model, for each executor (trivial models, no training).

Every model is trained by dsd.sweep.testing.FakeTrainer with 0 s of work, so all the time measured is the
sweep's own: start-up, claiming, writing one atomic record, reporting back, collecting. Printed
columns: ``startup`` (start to the first record), ``per model`` (wall time / models, the number
the goal of <= 0.5 s refers to) and ``steady`` (between the first and the last record, per model).

    python benchmarks/sweep_overhead.py                       # local, ray, slurm (if Slurm is up)
    python benchmarks/sweep_overhead.py --executors local --n-local 500
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from dsd.sweep import ExecutorSettings, SweepOptions, run_sweep
from dsd.sweep.testing import FakeTrainer, fake_samples


def slurm_up() -> bool:
    """Whether a Slurm cluster answers here."""
    if not shutil.which("sinfo"):
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True).stdout
    return any(s in ("idle", "mixed", "allocated") for s in out.split())


def measure(settings: ExecutorSettings, n: int) -> dict:
    """Run ``n`` trivial models with ``settings``; return the timings."""
    with tempfile.TemporaryDirectory(prefix="dsd-bench-") as tmp:
        run_dir = Path(tmp) / "run"
        samples = fake_samples(n, spaces=("Bench",))
        t0 = time.time()
        options = SweepOptions(trainer=FakeTrainer(), executor=settings, progress=False)
        summary = run_sweep(samples, run_dir, options)
        wall = time.time() - t0
        times = sorted(p.stat().st_mtime for p in (run_dir / "records").glob("*.json"))
    assert summary.counts == {"ok": n}, summary.counts
    steady = (times[-1] - times[0]) / (n - 1) if n > 1 else float("nan")
    return {"wall": wall, "startup": times[0] - t0, "per_model": wall / n, "steady": steady}


def main() -> None:
    """Measure and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--executors", default="local,ray,slurm")
    p.add_argument("--n-local", type=int, default=200)
    p.add_argument("--n-ray", type=int, default=100)
    p.add_argument("--n-slurm", type=int, default=40)
    p.add_argument("--slots", type=int, default=2)
    args = p.parse_args()
    runs = {
        "local": (ExecutorSettings(kind="local", slots=args.slots), args.n_local),
        "ray": (ExecutorSettings(kind="ray", slots=args.slots), args.n_ray),
        "slurm": (ExecutorSettings(kind="slurm", max_parallel=args.slots), args.n_slurm),
    }
    header = f"{'executor':<9}{'models':>7}{'slots':>6}{'total s':>9}{'startup s':>11}"
    header += f"{'per model s':>13}{'steady s':>10}"
    print(header)
    print("-" * len(header))
    for name in args.executors.split(","):
        settings, n = runs[name]
        if name == "slurm" and not slurm_up():
            print(f"{name:<9}  skipped: no Slurm cluster answers (sudo bash ci/slurm/start.sh)")
            continue
        r = measure(settings, n)
        print(
            f"{name:<9}{n:>7}{args.slots:>6}{r['wall']:>9.1f}{r['startup']:>11.2f}"
            f"{r['per_model']:>13.3f}{r['steady']:>10.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
