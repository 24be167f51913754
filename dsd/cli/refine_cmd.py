"""``dsd refine``: test a space's candidate refinements on one population; write the next space."""

from __future__ import annotations

import argparse
import sys

from dsd.cli import add_command
from dsd.errors import DsdError

EPILOG = """examples:
  dsd refine runs/xa/results.parquet --space AnyNetXA
  dsd refine runs/xa/results.parquet --space AnyNetXA -o AnyNetXA-refined.yaml
  dsd sample --space AnyNetXA-refined.yaml --n 500 --flops 360M:400M -o next.parquet
  dsd refine results.parquet --space AnyNetXC --candidates mine.yaml --report refine.html

Candidates that split the population alike (or as complements) are one test, named by the
better side. verdicts: improves (Benjamini-Hochberg-adjusted KS p < alpha and the q25
difference's interval below 0; "explained by" a stronger candidate when its effect disappears
within that one's sides), no loss (the non-inferiority test of "worse by at least the
tolerance" rejected, adjusted alike), hurts, inconclusive (n_needed: models that would resolve
the observed D). -o writes the best unexplained improvement and the no-loss simplifications
(shared, non-decreasing); when none qualifies it writes nothing and exits with code 1."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``dsd refine``."""
    help_ = "find, test and write the next refinement of a design space from one population"
    p = add_command(sub, "refine", cmd_refine, help_, epilog=EPILOG)
    p.add_argument("results", nargs="+", help="results files (.parquet, .csv, .json)")
    p.add_argument("--space", required=True, help="the population's space (name or YAML file)")
    p.add_argument("-o", "--output", help="write the refined space here (.yaml)")
    p.add_argument(
        "--only-improving",
        action="store_true",
        help="write only the best 'improves' candidate (no 'no loss' simplifications)",
    )
    p.add_argument("--metric", default="top1_err", help="error column (default: top1_err)")
    p.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep rows whose KEY is one of the VALUEs (default keeps status=ok)",
    )
    p.add_argument(
        "--candidates", help="YAML file of extra candidates (see dsd.analysis.candidates)"
    )
    p.add_argument(
        "--no-defaults", action="store_true", help="test only the --candidates, not the defaults"
    )
    p.add_argument("--alpha", type=float, default=0.05, help="test level (0.05)")
    p.add_argument(
        "--tolerance",
        type=float,
        default=1.0,
        help="largest q25 difference, in error percent, that counts as no loss (1.0)",
    )
    p.add_argument("--bins", type=int, default=10, help="flop bins at most (10)")
    p.add_argument("--reps", type=int, default=1000, help="bootstrap draws (1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    p.add_argument("--top", type=int, default=20, help="rows to print (20)")
    p.add_argument("--table", help="also write the whole candidate table (.csv/.parquet/.json)")
    p.add_argument("--report", help="also write an HTML page with the table and EDFs (.html)")


def cmd_refine(args: argparse.Namespace) -> int:
    """Handler of ``dsd refine``."""
    # lazy: dsd.analysis costs ~2 s; dsd --help stays fast
    from dsd.analysis import RefineOptions, RefineRequest, refine_command

    if args.alpha >= 1:
        raise DsdError(f"--alpha must be below 1, got {args.alpha}")
    if args.tolerance < 0:
        raise DsdError(f"--tolerance must be >= 0, got {args.tolerance}")
    options = RefineOptions(
        metric=args.metric,
        filters=tuple(args.filter),
        tolerance=args.tolerance / 100,
        **{k: getattr(args, k) for k in ("alpha", "bins", "reps", "seed")},
    )
    same = "space candidates no_defaults output only_improving table report top".split()
    request = RefineRequest(results=tuple(args.results), **{k: getattr(args, k) for k in same})
    output, code = refine_command(request, options)
    print(output.text)
    for line in output.notes:
        print(f"note: {line}", file=sys.stderr)
    return code
