"""``dsd design``: replay a chain of design spaces, or discover one, every step on fresh models."""

from __future__ import annotations

import argparse
import sys

from dsd.cli import add_command
from dsd.cli.sweep_cmd import resume_command, sweep_options
from dsd.errors import DsdError

EPILOG = """examples:
  dsd design --chain AnyNetXA,AnyNetXB,AnyNetXC,AnyNetXD,AnyNetXE,RegNetX design_digits -o runs/chain
  dsd design --start AnyNetXA design_digits -o runs/found --steps 3
  dsd design --chain AnyNetXA,AnyNetXB,AnyNetXC,AnyNetXD,AnyNetXE,RegNetX design_cifar10 \\
      -o runs/c10-chain --data ~/data/cifar-10-batches-py --executor slurm --partition gpu
  dsd status runs/chain

--chain trains an independent population of every space (the experiment's n, regime, recipe;
one run folder each under DIR) and judges each child against its parent with dsd refine's
verdicts (improves / no loss / hurts / inconclusive), each step one test at --alpha.
--start refines the current population, writes the best candidate as DIR/spaces/*.yaml
(extends: its parent), and accepts it only if a FRESH population of it confirms it (improves
or no loss) against the current one; else it tries the next candidate (--tries) or stops. The
exploration population only chooses what to test; the confirmation population is sampled anew
(its own sampler stream), so the test's level holds whatever was chosen. Each confirmation is
made at alpha / (steps x tries): the chance that ANY accepted step of the chain is a false
"improves" or a false "no loss" is at most --alpha (Bonferroni; --per-step: alpha each).
Outputs: DIR/chain.csv (one row a step, the paper's verdict beside it), DIR/report.html (the
chain's EDF panels, then the usual report), DIR/steps/ (the decisions). The same command
resumes a stopped design: only missing models train, recorded decisions are kept."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``dsd design``."""
    help_ = "replay or discover a chain of refined design spaces, each step confirmed"
    p = add_command(sub, "design", design_handler, help_, epilog=EPILOG)
    p.add_argument("experiment", help="experiment file or built-in name (n, regime, recipe)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="design folder")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--chain", help="spaces to replay, parent first, comma-separated")
    how.add_argument("--start", help="space to start a discovery from")
    p.add_argument("--steps", type=int, default=3, help="discovery: most steps (3; at most 50)")
    p.add_argument(
        "--tries", type=int, default=3, help="discovery: candidates a step (3; at most 26)"
    )
    p.add_argument("--alpha", type=float, default=0.05, help="error rate (0.05)")
    p.add_argument(
        "--per-step", action="store_true", help="discovery: each confirmation at --alpha"
    )
    p.add_argument(
        "--tolerance", type=float, default=1.0, help="q25 loss in error %% that is no loss (1.0)"
    )
    p.add_argument("--reps", type=int, default=1000, help="bootstrap draws (1000)")
    p.add_argument("--bins", type=int, default=10, help="flop bins at most (10)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    p.add_argument("--data", help="data set path (overrides the file's `data:`)")
    p.add_argument("--executor", choices=("local", "slurm", "ray"), help="where models train")
    p.add_argument("--slots", type=int, help="local/ray CPU: models at once")
    p.add_argument("--gpus", type=int, help="local: GPUs to use (0 = CPU only)")
    p.add_argument("--max-parallel", type=int, help="slurm/ray: models at once")
    p.add_argument("--partition", help="slurm partition")
    p.add_argument("--address", help="ray: cluster address")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def design_handler(args: argparse.Namespace) -> int:
    """Replay or discover a chain."""
    # lazy: the design loop imports torch, matplotlib and the analysis (~2 s); --help stays fast
    from dsd.design import DesignOptions, discover_chain, replay_chain
    from dsd.sweep import load_experiment  # lazy: see above

    if not args.tolerance >= 0:  # in percent here; DesignOptions checks the rest
        raise DsdError(f"--tolerance must be >= 0, got {args.tolerance}")
    DesignOptions.check(args.alpha, args.steps, args.tries)  # before the experiment and the data
    exp = load_experiment(args.experiment)
    how = ("--chain", args.chain) if args.chain else ("--start", args.start)
    options = DesignOptions(
        sweep=sweep_options(args, exp),
        tolerance=args.tolerance / 100,
        **{k: getattr(args, k) for k in ("alpha", "steps", "tries", "reps", "bins", "seed")},
        chain_wise=not args.per_step,
        command=resume_command(args, *how),
        say=lambda line: print(f"dsd design: {line}", file=sys.stderr, flush=True),
    )
    if args.chain:
        chain = [s.strip() for s in args.chain.split(",")]
        print(replay_chain(exp, chain, args.out, options).describe())
    else:
        print(discover_chain(exp, args.start, args.out, options).describe())
    return 0
