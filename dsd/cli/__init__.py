"""The ``dsd`` command line: each ``*_cmd`` module's ``register(sub)`` adds commands whose handler
``args.func(args) -> int`` parses, calls one layer function and prints. Heavy imports happen inside
handlers so ``dsd --help`` starts fast.

This is the one error boundary: bad input (DsdError, an OS error, too little memory) ends in one
line and exit code 2; anything else is a bug of dsd: one line ``dsd CMD: internal error: ...``
and exit code 70 (``DSD_TRACEBACK=1`` shows the traceback and numpy's RuntimeWarnings instead).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import math
import os
import re
import sys
import traceback
import warnings

from dsd._version import __version__
from dsd.errors import DsdError
from dsd.validate import MAX_INT

#: Modules under dsd.cli that define register(subparsers), in the order of ``dsd --help``.
COMMAND_MODULES = (
    "nets_cmd spaces_cmd train_cmd sweep_cmd experiments_cmd analysis_cmd time_cmd refine_cmd "
    "design_cmd data_cmd doctor_cmd"
).split()
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # EX_SOFTWARE (sysexits.h): an exception dsd did not expect
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../dsd
MAX_MESSAGE = 600  # characters of an error line (a message quoting a huge value is cut)


def _count(text: str) -> int:
    """An ``int`` option: a whole number from 0 to 2**31 - 1 (no command takes more or less)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_INT:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to {MAX_INT}, got {text}")
    return value


def _real(text: str) -> float:
    """A ``float`` option: a finite number (nan and inf are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit code 2, and whose ``int`` options are
    counts and ``float`` options finite."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("type", int, _count)
        self.register("type", float, _real)

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)}\n")


def one_line(text: str) -> str:
    """``text`` as one line of at most MAX_MESSAGE characters (non-UTF-8 bytes shown as \\xNN)."""
    text = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 5] + " ..."


def os_message(e: OSError) -> str:
    """An OS error as 'PATH: what went wrong' (the path the operation failed on)."""
    what = e.strerror or os.strerror(e.errno) if e.errno else str(e)
    if e.errno == errno.ENOSPC:
        what += " (free some space and run the command again)"
    paths = [p for p in (e.filename, e.filename2) if p is not None]
    return f"{' -> '.join(os.fsdecode(p) for p in paths)}: {what}" if paths else what


def table(rows: list[tuple], right_from: int = 1) -> str:
    """``rows`` as aligned columns, a rule under the first (right-aligned from ``right_from``)."""
    widths = [max(len(str(c)) for c in column) for column in zip(*rows)]
    out = []
    for r in rows:
        cells = [
            str(c).ljust(w) if i < right_from else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(r, widths))
        ]
        out.append("  ".join(cells).rstrip())
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def add_command(sub, name: str, func, help: str, description: str | None = None, epilog=None):
    """Add the command ``name`` (handler ``func``; description defaults to ``help``)."""
    p = sub.add_parser(
        name,
        help=help,
        description=help if description is None else description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="dsd",
        description="Design network design spaces: sample populations of models from a space, "
        "train each briefly, and compare spaces by their error distributions.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  dsd spaces\n  dsd show RegNetX-400MF\n"
        "  dsd sample --space AnyNetXC --n 500 --flops 360M:400M -o samples.parquet",
    )
    parser.add_argument("--version", action="version", version=f"dsd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"dsd.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="surrogateescape")  # a non-UTF-8 file name prints as given
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE

    def fail(message: str) -> int:
        print(f"dsd {args.command}: error: {one_line(message)}", file=sys.stderr)
        return EXIT_USAGE

    try:
        with warnings.catch_warnings():
            if os.environ.get("DSD_TRACEBACK") != "1":  # numpy's notes on inputs dsd checks
                warnings.simplefilter("ignore", RuntimeWarning)
            return int(args.func(args) or 0)
    except DsdError as e:
        return fail(str(e))
    except BrokenPipeError:  # the reader went away (``dsd edf ... | head``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        return fail(os_message(e))
    except MemoryError:
        return fail(
            "not enough memory for this request (ask for fewer models, repetitions or a smaller size)"
        )
    except RecursionError:
        return fail("input nested too deeply")
    except RuntimeError as e:  # torch reports a failed allocation as a RuntimeError
        if "allocate memory" not in str(e) and "out of memory" not in str(e):
            return _internal(args.command, e)
        return fail(f"not enough memory for this request: {str(e).splitlines()[-1][:200]}")
    except KeyboardInterrupt:
        print(f"dsd {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # the last resort: one line, and a code that says "a bug of dsd"
        return _internal(args.command, e)


def _internal(command: str, e: Exception) -> int:
    """Print ``dsd CMD: internal error: TYPE: MESSAGE (at FILE:LINE); ...`` and return
    EXIT_INTERNAL (re-raise with DSD_TRACEBACK=1)."""
    if os.environ.get("DSD_TRACEBACK") == "1":
        raise e
    frames = traceback.extract_tb(e.__traceback__)
    # the package's own files (not any path with a dsd folder in it: a checkout may be named dsd)
    mine = [f for f in frames if os.path.abspath(f.filename).startswith(PACKAGE_DIR + os.sep)]
    where = ""
    if frames:  # the innermost frame of dsd (where the cause was not checked), else the last
        frame = (mine or frames)[-1]
        if mine:  # shown as dsd/x/y.py
            shown = os.path.relpath(frame.filename, os.path.dirname(PACKAGE_DIR))
        else:
            shown = os.path.basename(frame.filename)
        where = f" (at {shown}:{frame.lineno})"
    text = one_line(f"{type(e).__name__}: {e}")[:300]
    print(
        f"dsd {command}: internal error: {text}{where}; please report it; DSD_TRACEBACK=1 shows "
        "the traceback",
        file=sys.stderr,
    )
    return EXIT_INTERNAL
