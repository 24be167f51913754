"""Replay the paper's design chain on the embedded digits data and print it beside the paper's.

    python benchmarks/design_replay.py [-o runs/design_replay] [--n 40] [--epochs 5]

Runs ``dsd design --chain AnyNetXA,AnyNetXB,AnyNetXC,AnyNetXD,AnyNetXE,RegNetX design_digits``
(the built-in experiment: 20 models a space, 5 epochs, the demo's regime; ``--n`` / ``--epochs``
change it), from a fresh folder unless ``-o`` names one to resume, through the public API
(:func:`dsd.design.replay_chain`), then prints the chain table side by side with the paper's
verdicts, the wall time and the machine's load before and after (``os.getloadavg``). Target: at
most 30 minutes on 2 CPU cores. A benchmark, not a test: the table is what to read.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

CHAIN = ("AnyNetXA", "AnyNetXB", "AnyNetXC", "AnyNetXD", "AnyNetXE", "RegNetX")


def table(chain) -> str:
    """The chain beside the paper's verdicts, one line a step."""
    head = (
        f"{'step':<22} {'dsd verdict':<13} {'paper':<9} {'agrees':<6} {'D':>6} {'p':>8} "
        f"{'q25 diff %':>11} {'95% CI':>16} {'power D=.65':>11} {'n_needed':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in chain.itertuples():
        ci = f"[{100 * r.ci_low:+.2f}, {100 * r.ci_high:+.2f}]"
        lines.append(
            f"{r.parent + ' -> ' + r.child:<22} {r.verdict:<13} {r.paper_verdict:<9} "
            f"{'yes' if r.agrees else 'no':<6} {r.D:6.3f} {r.p:8.2g} {100 * r.diff:+11.2f} "
            f"{ci:>16} {r.power_demo:11.2f} {r.n_needed:8.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the replay and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--out", default=f"runs/design_replay-{int(time.time())}")
    p.add_argument("--n", type=int, default=None, help="models a space (default: the file's)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the file's)")
    args = p.parse_args(argv)
    # Imported here, not at the top: the local workers are spawned, and a spawned worker imports
    # this script again; torch imported before the worker sets OMP_NUM_THREADS=1 would give each
    # worker one thread a core, and two workers on two cores then run about 5x slower.
    from dsd.design import DesignOptions, replay_chain
    from dsd.pipeline import experiment_options
    from dsd.sweep import load_experiment

    exp = load_experiment("design_digits")
    changes = {k: v for k, v in (("n", args.n), ("epochs", args.epochs)) if v is not None}
    exp = dataclasses.replace(exp, **changes)
    say = lambda line: print(f"design_replay: {line}", file=sys.stderr, flush=True)  # noqa: E731
    options = DesignOptions(sweep=experiment_options(exp, progress=False), say=say)
    load0, t0 = os.getloadavg(), time.time()
    print(
        f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, {os.cpu_count()} CPUs"
    )
    summary = replay_chain(exp, CHAIN, args.out, options)
    wall = time.time() - t0
    load1 = os.getloadavg()
    print(f"load average after:  {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    print(f"\n{exp.name}: {exp.n} models a space, {exp.epochs} epochs on {exp.dataset}")
    print(table(summary.chain))
    print(f"\nwall time {wall / 60:.1f} min; chain {summary.folder.chain}; report {summary.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
