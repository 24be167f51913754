"""Helpers for the design tests: fast design options (fake trainer, inline training), and a driver
process to kill.

Run as a script it is a ``dsd design`` driver over fake models in a planted world::

    python tests/design_fixtures.py DIR --trace T [--n 60] [--seconds 0.02] [--steps 1] [--explore-alpha 0.5]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()


def fast_options(world=None, trace: str = "", seconds: float = 0.0, **changes):
    """Design options that train fake models in this process (no worker to start)."""
    from dsd.design import DesignOptions
    from dsd.sweep import SweepOptions
    from dsd.sweep.testing import FakeTrainer, InlineExecutor, Planted

    trainer = FakeTrainer(seconds=seconds, trace=trace, world=world or Planted())
    sweep = SweepOptions(trainer=trainer, engine=InlineExecutor(), progress=False, poll_s=0.01)
    changes = {"reps": 200, "report": False, **changes}
    return DesignOptions(sweep=sweep, **changes)


def experiment(n: int, seed: int = 0):
    """The digits experiment's regime with ``n`` models a population."""
    from dsd.sweep import load_experiment

    return dataclasses.replace(load_experiment("digits_anynetx"), n=n, sample_seed=seed)


def driver_command(out: Path, trace: Path, **opts) -> list[str]:
    """The command line of a design driver process."""
    cmd = [sys.executable, str(HERE), str(out), "--trace", str(trace)]
    for key, value in opts.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    return cmd


def start_driver(out: Path, trace: Path, **opts) -> subprocess.Popen:
    """Start a design driver (output to OUT.driver.log beside the folder)."""
    log = open(out.parent / f"{out.name}.driver.log", "ab")
    return subprocess.Popen(driver_command(out, trace, **opts), stdout=log, stderr=log)


def main(argv: list[str] | None = None) -> int:
    """Drive a discovery over fake models (see the module docstring)."""
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--trace", required=True)
    p.add_argument("--n", type=int, default=60)
    p.add_argument("--seconds", type=float, default=0.02)
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--explore-alpha", type=float, default=0.5)
    args = p.parse_args(argv)

    from dsd.design import discover_chain

    o = fast_options(
        trace=args.trace,
        seconds=args.seconds,
        steps=args.steps,
        tries=2,
        explore_alpha=args.explore_alpha,
    )
    summary = discover_chain(experiment(args.n), "AnyNetXA", args.out, o)
    print(summary.describe(), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
