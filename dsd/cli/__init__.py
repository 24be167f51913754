"""The ``dsd`` command line: thin wrappers that parse arguments, call the layers and print.

Each group of commands lives in its own module with a ``register(subparsers)`` function; the
handler of a command is ``args.func(args) -> int``. Heavy imports (torch, matplotlib) happen
inside handlers so that ``dsd --help`` and ``dsd spaces`` start fast.

Bad input of any kind ends with one line on stderr and exit code 2 (see :mod:`dsd.errors`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from dsd.errors import DsdError

# Modules under dsd.cli that define register(subparsers); a missing one is skipped so that
# layers can land one at a time.
COMMAND_MODULES = (
    "nets_cmd",
    "spaces_cmd",
    "train_cmd",
    "sweep_cmd",
    "analysis_cmd",
    "time_cmd",
    "refine_cmd",
)

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage dump) and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class ExampleFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep the examples in each command's epilog as written."""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="dsd",
        description="Design network design spaces: sample populations of models from a space, "
        "train each briefly, and compare spaces by their error distributions.",
        formatter_class=ExampleFormatter,
        epilog="examples:\n  dsd spaces\n  dsd show RegNetX-400MF\n"
        "  dsd sample --space AnyNetXC --n 500 --flops 360M:400M -o samples.parquet",
    )
    from dsd import __version__

    parser.add_argument("--version", action="version", version=f"dsd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"dsd.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"dsd.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except DsdError as e:
        print(f"dsd {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"dsd {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``dsd edf ... | head``): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
