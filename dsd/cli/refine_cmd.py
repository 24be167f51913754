"""``dsd refine``: test the candidate refinements of a space on one population, write the next space.

See :mod:`dsd.analysis.refinement` for the candidates, the statistics and the verdicts. Inputs are read
and validated, and output paths checked, before anything is written.
"""

from __future__ import annotations

import argparse

from dsd.errors import DsdError

EPILOG = """examples:
  dsd refine runs/xa/results.parquet --space AnyNetXA
  dsd refine runs/xa/results.parquet --space AnyNetXA -o AnyNetXA-refined.yaml
  dsd sample --space AnyNetXA-refined.yaml --n 500 --flops 360M:400M -o next.parquet
  dsd refine results.parquet --space AnyNetXC --candidates mine.yaml --report refine.html

verdicts: improves (BH-adjusted KS p < alpha and the q25 difference's interval below 0),
no loss (not significant, interval top <= tolerance), hurts, inconclusive (n_needed: models
the population would need to resolve the observed D)."""


def _positive(kind):
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not v > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return v

    return parse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``dsd refine``."""
    from dsd.cli import ExampleFormatter

    help_ = "find, test and write the next refinement of a design space from one population"
    p = sub.add_parser(
        "refine", help=help_, description=help_, epilog=EPILOG, formatter_class=ExampleFormatter
    )
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
        "--candidates", help="YAML file of extra candidates (see dsd.analysis.refinement)"
    )
    p.add_argument(
        "--no-defaults", action="store_true", help="test only the --candidates, not the defaults"
    )
    p.add_argument("--alpha", type=_positive(float), default=0.05, help="test level (0.05)")
    p.add_argument(
        "--tolerance",
        type=float,
        default=1.0,
        help="largest q25 difference, in error percent, that counts as no loss (1.0)",
    )
    p.add_argument("--bins", type=_positive(int), default=10, help="flop bins at most (10)")
    p.add_argument("--reps", type=_positive(int), default=1000, help="bootstrap draws (1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    p.add_argument("--top", type=_positive(int), default=20, help="rows to print (20)")
    p.add_argument("--table", help="also write the whole candidate table (.csv/.parquet/.json)")
    p.add_argument("--report", help="also write an HTML page with the table and EDFs (.html)")
    p.set_defaults(func=cmd_refine)


def cmd_refine(args: argparse.Namespace) -> int:
    """Handler of ``dsd refine``."""
    from dsd.analysis import refinement as rf
    from dsd.analysis.report import check_report_path
    from dsd.io import check_output_path, write_table
    from dsd.spaces import load_space

    out = check_output_path(args.output, (".yaml", ".yml")) if args.output else None
    table_out = check_output_path(args.table) if args.table else None
    report = check_report_path(args.report) if args.report else None
    if args.alpha >= 1:
        raise DsdError(f"--alpha must be below 1, got {args.alpha}")
    if args.tolerance < 0:
        raise DsdError(f"--tolerance must be >= 0, got {args.tolerance}")
    space = load_space(args.space)
    extra = rf.read_candidates(args.candidates, space) if args.candidates else []
    if args.no_defaults and not extra:
        raise DsdError("--no-defaults needs --candidates FILE")
    table = rf.refine(
        args.results,
        space,
        candidates=extra if args.no_defaults else None,
        extra=[] if args.no_defaults else extra,
        metric=args.metric,
        filters=args.filter,
        alpha=args.alpha,
        tolerance=args.tolerance / 100,
        bins=args.bins,
        reps=args.reps,
        seed=args.seed,
    )
    print(rf.format_table(table, args.top))
    print()
    print(rf.sample_size_note(table))
    if table_out:
        write_table(table, table_out)
    if report:
        rf.write_refine_report(table, args.results, space, report, filters=args.filter)
        print(f"report -> {report}")
    if out:
        written = rf.write_refined_space(
            table,
            space,
            out,
            only_improving=args.only_improving,
            sources=", ".join(map(str, args.results)),
        )
        if written is None:
            print("no candidate improves or is a no-loss simplification: no space written")
        else:
            picks = rf.chosen(table, args.only_improving)
            size = load_space(written).size
            print(
                f"refined space -> {written} (adds: {'; '.join(picks['candidate'])}; "
                f"exact size {size:,} = {size:.2e}, {100 * size / space.size:.3g}% of {space.name})"
            )
    return 0
