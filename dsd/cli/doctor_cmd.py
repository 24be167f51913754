"""``dsd doctor``: what a user checks first on a new machine (torch build, GPUs, bf16, compile,
threads, data sets), with one line of advice for each thing that is off."""

from __future__ import annotations

import argparse

from dsd.cli import add_command
from dsd.errors import DsdError

EPILOG = """\
examples:
  dsd doctor
  dsd doctor --data ~/data --compile

Exit code 0 when nothing is off, 1 when some advice was printed.
"""


def register(sub) -> None:
    """Add ``dsd doctor`` to the command line."""
    p = add_command(
        sub,
        "doctor",
        cmd_doctor,
        "check this machine: torch build, GPUs, bf16, torch.compile, threads, data sets",
        description="Report dsd's and torch's versions, torch's build (CPU or CUDA), the GPUs "
        "(name, memory, bf16), threads and the data sets found, with advice where something is off.",
        epilog=EPILOG,
    )
    where = "where to look for data sets (repeatable; default ./data and ~/data)"
    p.add_argument("--data", action="append", metavar="DIR", help=where)
    p.add_argument("--compile", action="store_true", help="also check that torch.compile works")
    timeout = "seconds the compile check may take (default 300)"
    p.add_argument("--timeout", type=float, default=300, help=timeout)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Handler of ``dsd doctor``."""
    from dsd.trainer import machine_findings  # lazy: the trainer loads torch (~1 s at start-up)

    if args.timeout <= 0:
        raise DsdError(f"--timeout must be > 0, got {args.timeout:g}")
    findings = machine_findings(
        args.data or (), compile_timeout=args.timeout if args.compile else None
    )
    width = max(len(f.topic) for f in findings)
    for f in findings:
        print(f"{f.topic:<{width}}  {f.value}")
    advice = [f.advice for f in findings if not f.ok]
    for line in advice:
        print(f"advice: {line}")
    print("all good" if not advice else f"{len(advice)} thing(s) to look at")
    return 0 if not advice else 1
