"""``dsd edf``, ``dsd bootstrap``, ``dsd fit``, ``dsd report``: analysis of results files.

Each command takes any number of results files; rows are merged, filtered (``--filter key=value``,
``status=ok`` by default) and grouped into populations by ``--by`` (default: space). ``--metric``
picks the error column (``top1_err``, the final epoch's, by default; ``top1_err_min`` is what pycls
and nds analyse); it is named on every table and figure, and errors are in percent. Every input is
read and validated, and every output path checked, before anything is written.
"""

from __future__ import annotations

import argparse
import sys

from dsd.errors import DsdError


def _common(p: argparse.ArgumentParser) -> None:
    """Arguments shared by every analysis command."""
    p.add_argument("results", nargs="+", help="results files (.parquet, .csv, .json)")
    p.add_argument(
        "--by", default="space", help="column that groups rows into populations (default: space)"
    )
    p.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep rows whose KEY is one of the comma-separated VALUEs; repeatable "
        "(default keeps status=ok unless a status filter is given)",
    )
    p.add_argument(
        "--metric",
        default="top1_err",
        help="error column analysed: top1_err (final epoch, default) or top1_err_min (best "
        "epoch, as pycls and nds), or any numeric column",
    )


def _parser(sub, name: str, help_: str, epilog: str) -> argparse.ArgumentParser:
    """A subcommand parser with the example formatter."""
    from dsd.cli import ExampleFormatter

    p = sub.add_parser(
        name, help=help_, description=help_, epilog=epilog, formatter_class=ExampleFormatter
    )
    _common(p)
    return p


def _range(text: str | None) -> tuple[float, float] | None:
    """Parse ``LOW:HIGH`` counts (360M:400M), as every command does (:func:`dsd.validate.parse_range`)."""
    from dsd.validate import parse_range

    return None if text is None else parse_range(text, "--range")


def _load(args) -> dict:
    """Load, filter and group the results of ``args``."""
    from dsd.analysis.data import groups, load_results

    df = load_results(args.results, args.filter, args.metric)
    if df.empty:
        raise DsdError("no rows left after filtering (is there any status=ok row?)")
    return groups(df, args.by)


def _print(df) -> None:
    """Print a DataFrame as a plain text table."""
    print(df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def cmd_edf(args) -> int:
    """Handler of ``dsd edf``."""
    from dsd.analysis import figures, tables

    out = figures.check_figure_path(args.output) if args.output else None
    if args.bins < 1:
        raise DsdError(f"--bins must be >= 1, got {args.bins}")
    lo_hi = _range(args.range)
    pops = _load(args)
    norm = None
    if args.normalize:
        norm = tables.normalisation(pops, args.normalize, args.bins, lo_hi)
        edfs = tables.normalised_edfs(pops, norm, args.metric)
    else:
        edfs = tables.population_edfs(pops, metric=args.metric)
    print(f"error: {tables.metric_label(args.metric)}")
    if norm:
        print(f"normalised EDFs: {norm.note}")
    summary = tables.summary_table(pops, args.metric, edfs if norm else None)
    summary["edf_mean%"] = [100 * f.mean for f in edfs.values()]
    _print(summary)
    if len(edfs) > 1:
        d, p = tables.ks_matrix(edfs)
        kind = "normalised" if norm else "plain"
        print(f"\nKS between {kind} EDFs: statistic D (upper triangle) and p-value (lower):")
        names = list(edfs)
        both = d.copy()
        for i, a in enumerate(names):
            for b in names[:i]:
                both.loc[a, b] = p.loc[a, b]
        print(both.to_string(float_format=lambda v: f"{v:.3g}"))
    if out:
        fig = figures.plot_edfs(
            edfs,
            bands="bootstrap" if args.bands else None,
            normalized=bool(args.normalize),
            xlabel=tables.metric_label(args.metric),
        )
        figures.save_figure(fig, out)
        print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_bootstrap(args) -> int:
    """Handler of ``dsd bootstrap``."""
    from dsd.analysis import figures, tables
    from dsd.io import check_output_path, write_table

    out = figures.check_figure_path(args.output) if args.output else None
    table_out = check_output_path(args.table) if args.table else None
    pops = _load(args)
    params = args.param or ["d"]
    table, details = tables.bootstrap_table(
        pops, params, args.frac, args.reps, args.ci, args.seed, args.metric
    )
    print(f"best value of each parameter by {tables.metric_label(args.metric)}")
    _print(table)
    if out:
        name, param = next(iter(details))
        if len(details) > 1:
            print("note: the figure shows the first population and parameter", file=sys.stderr)
        labels, values, r = details[(name, param)]
        fig = figures.plot_bootstrap(
            values,
            pops[name][args.metric],
            r,
            labels,
            title=f"{name}: {param}",
            error_label=tables.metric_label(args.metric),
        )
        figures.save_figure(fig, out)
        print(f"wrote {out}", file=sys.stderr)
    if table_out:
        write_table(table, table_out)
    return 0


def cmd_fit(args) -> int:
    """Handler of ``dsd fit``."""
    import pandas as pd

    from dsd.analysis import figures, tables

    out = figures.check_figure_path(args.output) if args.output else None
    if args.top < 1:
        raise DsdError("--top must be >= 1")
    pops = _load(args)
    df = pd.concat(pops.values(), ignore_index=True)
    table, fits = tables.fit_table(df, args.top, args.metric)
    print(f"best {len(fits)} models by {tables.metric_label(args.metric)}")
    _print(table)
    if out:
        fig = figures.plot_fits(
            fits[: args.plot], tables.fit_names(table, args.metric)[: args.plot]
        )
        figures.save_figure(fig, out)
        print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_compare(args) -> int:
    """Handler of ``dsd compare``."""
    from dsd.analysis.compare import compare, parse_pair

    pairs = [parse_pair(t) for t in args.pair]
    pops = _load(args)
    if not pairs:
        names = list(pops)
        pairs = [(a, b, None) for i, a in enumerate(names) for b in names[i + 1 :]]
    for a, b, _ in pairs:
        for name in (a, b):
            if name not in pops:
                raise DsdError(f"no population {name!r} in the results (have {', '.join(pops)})")
    if not pairs:
        raise DsdError("only one population in the results: nothing to compare")
    for a, b, expect in pairs:
        err_a, err_b = pops[a][args.metric], pops[b][args.metric]
        c = compare(a, err_a, b, err_b, alpha=args.alpha, expect=expect)
        print(f"{a} vs {b}: {c.sentence()}")
    return 0


def cmd_report(args) -> int:
    """Handler of ``dsd report``."""
    from dsd.analysis.report import check_report_path, write_report

    check_report_path(args.output)
    path = write_report(
        args.results,
        args.output,
        filters=args.filter,
        by=args.by,
        top=args.top,
        seed=args.seed,
        metric=args.metric,
        refine=args.refine,
    )
    print(f"wrote {path}", file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add the analysis commands to the ``dsd`` parser."""
    _register_edf(sub)
    _register_compare(sub)
    _register_bootstrap(sub)
    _register_fit(sub)
    _register_report(sub)


def _register_edf(sub) -> None:
    """``dsd edf``: error EDFs."""
    p = _parser(
        sub,
        "edf",
        "error EDFs of populations (one curve a space), optionally normalised by complexity",
        "examples:\n  dsd edf runs/demo/results.parquet -o edf.png\n"
        "  dsd edf results/*.parquet --normalize flops --bands -o edf.pdf\n"
        "  dsd edf a.parquet b.parquet --by dataset --filter epochs=10",
    )
    p.add_argument(
        "-o", "--output", help="figure file (.png, .pdf, .svg); without it only the table prints"
    )
    p.add_argument("--normalize", choices=("flops", "params", "acts"), help="NDS normalised EDFs")
    p.add_argument(
        "--bins",
        type=int,
        default=10,
        help="complexity bins for --normalize (default 10; fewer, with a note, when one is empty)",
    )
    p.add_argument(
        "--range",
        help="complexity range LOW:HIGH for --normalize (default: the populations' sampling "
        "regime, else the overlap of their ranges)",
    )
    p.add_argument("--bands", action="store_true", help="shade 95%% bootstrap confidence bands")
    p.set_defaults(func=cmd_edf)


def _register_compare(sub) -> None:
    """``dsd compare``: KS verdicts on pairs of populations."""
    p = _parser(
        sub,
        "compare",
        "is one space better than another? KS tests of pairs of populations, in plain words",
        "examples:\n  dsd compare runs/demo/results.parquet\n"
        "  dsd compare runs/demo/results.parquet --pair AnyNetXA:AnyNetXC=same "
        "--pair AnyNetXC:AnyNetXE=differ",
    )
    p.add_argument(
        "--pair",
        action="append",
        default=[],
        metavar="A:B[=same|differ]",
        help="populations to compare, optionally with what the paper found; repeatable "
        "(default: every pair)",
    )
    p.add_argument("--alpha", type=float, default=0.01, help="significance level (default 0.01)")
    p.set_defaults(func=cmd_compare)


def _register_bootstrap(sub) -> None:
    """``dsd bootstrap``: best-value bootstrap."""
    p = _parser(
        sub,
        "bootstrap",
        "likely range of the best value of parameters (empirical bootstrap, DDS footnote 4)",
        "examples:\n  dsd bootstrap results.parquet --param depths --param widths\n"
        "  dsd bootstrap results.parquet --param d --param g -o d.png --table best.csv",
    )
    p.add_argument(
        "--param",
        action="append",
        help="parameter: depths, widths, bottleneck_ratios, group_widths (one row a stage), "
        "or d, d1, w4, b, g, w_ratio1, flops, params, acts, w0, wa, wm, any numeric column; repeatable",
    )
    p.add_argument("--frac", type=float, default=0.25, help="fraction drawn per repetition (0.25)")
    p.add_argument("--reps", type=int, default=10_000, help="repetitions (10000)")
    p.add_argument("--ci", type=float, default=0.95, help="interval coverage (0.95)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "-o", "--output", help="scatter figure of the first parameter (.png, .pdf, .svg)"
    )
    p.add_argument("--table", help="also write the table (.parquet, .csv, .json)")
    p.set_defaults(func=cmd_bootstrap)


def _register_fit(sub) -> None:
    """``dsd fit``: quantized linear fits."""
    p = _parser(
        sub,
        "fit",
        "quantized linear fits (w0, wa, wm, e_fit) of the best models' per-block widths",
        "examples:\n  dsd fit results.parquet --top 20\n  dsd fit results.parquet --top 5 -o fits.png",
    )
    p.add_argument("--top", type=int, default=20, help="number of best models to fit (20)")
    p.add_argument("--plot", type=int, default=5, help="models drawn in the figure (5)")
    p.add_argument("-o", "--output", help="figure file (.png, .pdf, .svg)")
    p.set_defaults(func=cmd_fit)


def _register_report(sub) -> None:
    """``dsd report``: the HTML report."""
    p = _parser(
        sub,
        "report",
        "one self-contained HTML page: summary, EDFs, KS, bootstrap, fits, best models",
        "examples:\n  dsd report results/*.parquet -o report.html\n"
        "  dsd report runs/demo/results.parquet --top 20 -o report.html",
    )
    p.add_argument("-o", "--output", required=True, help="the .html file to write")
    p.add_argument("--top", type=int, default=10, help="best models listed and fitted (10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--refine", metavar="SPACE", help="add a refinement section for this space (dsd refine)"
    )
    p.set_defaults(func=cmd_report)
