"""``dsd experiments``: the built-in experiment files, each with its estimated cost here."""

from __future__ import annotations

import argparse

from dsd.cli import add_command

EXAMPLES = """examples:
  dsd experiments                      # every built-in experiment, with its cost on this machine
  dsd experiments cifar10_quick        # one file as written, and its cost space by space
  dsd experiments --no-estimate        # the list alone, at once

The estimate times a training step of a few sampled models of each space on the device this
machine's workers would use, times steps per epoch x epochs x models / workers (training only:
no evaluation, no data loading). A Slurm or Ray experiment is estimated as if it ran here."""


def register(subparsers) -> None:
    """Add ``dsd experiments``."""
    p = add_command(
        subparsers,
        "experiments",
        handler,
        "list the built-in experiment files with their estimated cost on this machine",
        description="List the built-in experiments (name, spaces, models a space, epochs, data "
        "set) or print one, with the time its training would take on this machine.",
        epilog=EXAMPLES,
    )
    p.add_argument("name", nargs="?", help="a built-in experiment's name, or an experiment file")
    p.add_argument("--no-estimate", action="store_true", help="skip the cost estimate")


def handler(args: argparse.Namespace) -> int:
    """List the experiments, or print one."""
    # lazy: estimating imports torch and builds models (~1.5 s); `dsd --help` stays fast
    from dsd.sweep import experiment_cards

    cards = experiment_cards([args.name] if args.name else None, estimate=not args.no_estimate)
    if args.name:
        print(cards[0].describe())
        return 0
    print(f"{'name':<24} {'spaces':<44} {'n':>5} {'epochs':>6}  {'data':<11} estimate here")
    for card in cards:
        print(card.line())
        print(f"  {card.experiment.description}")
    if where := next((c.estimate.where for c in cards if c.estimate), ""):
        print(f"(estimates: training only, {where})")
    return 0
