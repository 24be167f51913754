"""``dsd edf``, ``compare``, ``bootstrap``, ``fit``, ``report``: each handler builds
:class:`dsd.analysis.AnalysisOptions`, calls one function of ``dsd.analysis`` and prints (tables
on stdout, ledgers and notes on stderr)."""

from __future__ import annotations

import sys

from dsd.cli import add_command
from dsd.validate import parse_range

#: Bounds stated in --help (dsd.analysis.MAX_BINS, MAX_REPS: importing them costs the start-up).
MAX_BINS, MAX_REPS = 1000, 1_000_000

COMMON = {
    "--by": {"default": "space", "help": "column naming the populations (space)"},
    "--filter": {
        "action": "append",
        "default": [],
        "metavar": "KEY=VALUE",
        "help": "keep rows whose KEY is one of the comma-separated VALUEs; repeatable "
        "(default keeps status=ok unless a status filter is given)",
    },
    "--metric": {
        "default": "top1_err",
        "help": "error column, fractions in [0, 1]: top1_err (final epoch, default) or "
        "top1_err_min (best epoch, as pycls and nds)",
    },
}


#: AnalysisOptions fields set by the flag of the same name, where a command has it.
FIELDS = "normalise bins seed frac reps ci top alpha refine figures figure_format".split()


def _options(args, **fields):
    """The AnalysisOptions of ``args`` (validated there: one line for a bad value)."""
    import dsd.analysis as analysis  # lazy: dsd.analysis costs ~2 s; dsd --help stays fast

    fields.update({k: getattr(args, k) for k in FIELDS if getattr(args, k, None) is not None})
    if getattr(args, "param", None):
        fields["params"] = tuple(args.param)
    if getattr(args, "range", None) is not None:
        fields["range"] = _range(args.range)
    if getattr(args, "unbounded", False):
        fields["fit_domain"] = analysis.UNBOUNDED
    filters = tuple(args.filter)
    return analysis.AnalysisOptions(metric=args.metric, by=args.by, filters=filters, **fields)


def _range(text: str) -> tuple[float, float]:
    """``--range LOW:HIGH`` in counts (360M:400M), by the one parser of every command."""
    return parse_range(text, "--range")


def _handler(function: str, *extra: str, **fields):
    """A handler that prints ``dsd.analysis.<function>(results, options, *args.<extra>)``: text on
    stdout, notes on stderr."""

    def handler(args) -> int:
        import dsd.analysis as analysis  # lazy: dsd.analysis costs ~2 s; dsd --help stays fast

        values = [getattr(args, name) for name in extra]
        output = getattr(analysis, function)(args.results, _options(args, **fields), *values)
        if output.text:
            print(output.text)
        for line in output.notes:
            print(f"note: {line}", file=sys.stderr)
        return 0

    return handler


def cmd_report(args) -> int:
    from dsd.analysis import write_report  # lazy: dsd.analysis costs ~2 s; dsd --help stays fast

    print(f"wrote {write_report(args.results, args.output, _options(args))}", file=sys.stderr)
    return 0


OUTPUT = {"help": "figure file (.png, .pdf, .svg)"}
ALPHA = {"type": float, "help": "significance level (default dsd's: 0.05)"}
UNBOUNDED = {"action": "store_true", "help": "fit w0, wa, wm anywhere (default: the RegNet space)"}
SEED = {"type": int, "default": 0}
PARAM = {
    "action": "append",
    "help": "bootstrap: depths, widths, bottleneck_ratios, group_widths (one row a stage), or d, "
    "d1, w4, b, g, w_ratio1, flops, params, acts, w0, wa, wm, a numeric column; repeatable",
}
#: name -> (help, examples, handler, {flags: argparse keywords})
COMMANDS = {
    "edf": (
        "error EDFs of populations (one curve a space), optionally normalised by complexity",
        "dsd edf runs/demo/results.parquet -o edf.png\n"
        "dsd edf results/*.parquet --normalise flops --bands -o edf.pdf\n"
        "dsd edf a.parquet b.parquet --by dataset --filter epochs=10",
        _handler("edf_command", "output", "bands"),
        {
            "-o --output": OUTPUT,
            "--normalise --normalize": {
                "choices": ("flops", "params", "acts"),
                "help": "NDS normalised EDFs (--normalize is the same flag)",
            },
            "--bins": {
                "type": int,
                "default": 10,
                "help": f"complexity bins for --normalise, 1 to {MAX_BINS} (10; fewer, with a "
                "note, when one is empty: at most the smallest population's size)",
            },
            "--range": {"help": "complexity range LOW:HIGH (default: the sampling regime)"},
            "--bands": {"action": "store_true", "help": "shade 95%% bootstrap confidence bands"},
        },
    ),
    "compare": (
        "is one space better than another? KS tests of pairs of populations, in words, with "
        "the power to see a difference",
        "dsd compare runs/demo/results.parquet\n"
        "dsd compare r.parquet --pair AnyNetXA:AnyNetXC=same --pair AnyNetXC:AnyNetXE=differ",
        _handler("compare_command", "pair"),
        {
            "--pair": {
                "action": "append",
                "default": [],
                "metavar": "A:B[=same|differ]",
                "help": "populations to compare, and what the paper found (default: every pair)",
            },
            "--alpha": ALPHA,
        },
    ),
    "bootstrap": (
        "likely range of the best value of parameters (empirical bootstrap, DDS footnote 4)",
        "dsd bootstrap results.parquet --param depths --param widths\n"
        "dsd bootstrap results.parquet --param d --param g -o d.png --table best.csv",
        _handler("bootstrap_command", "output", "table", params=("d",)),
        {
            "--param": PARAM,
            "--frac": {"type": float, "default": 0.25, "help": "drawn per repetition (0.25)"},
            "--reps": {"type": int, "default": 10_000, "help": f"1 to {MAX_REPS:,} (10000)"},
            "--ci": {"type": float, "default": 0.95, "help": "interval coverage (0.95)"},
            "--seed": SEED,
            "-o --output": OUTPUT,
            "--table": {"help": "also write the table (.parquet, .csv, .json)"},
        },
    ),
    "fit": (
        "quantized linear fits (w0, wa, wm, e_fit) of each population's best models",
        "dsd fit results.parquet --top 20\ndsd fit results.parquet --top 5 -o fits.png",
        _handler("fit_command", "output", "plot"),
        {
            "--top": {"type": int, "default": 20, "help": "best models fitted per population"},
            "--plot": {"type": int, "default": 5, "help": "models drawn per population (5)"},
            "-o --output": OUTPUT,
            "--unbounded": UNBOUNDED,
        },
    ),
    "report": (
        "one self-contained HTML page: ledger, summary, EDFs, KS, verdicts, bootstrap, fits",
        "dsd report results/*.parquet -o report.html\n"
        "dsd report runs/demo/results.parquet --top 20 -o report.html --figures figs",
        cmd_report,
        {
            "-o --output": {"required": True, "help": "the .html file to write"},
            "--top": {"type": int, "default": 10, "help": "best models listed and fitted (10)"},
            "--seed": SEED,
            "--param": PARAM,
            "--alpha": ALPHA,
            "--unbounded": UNBOUNDED,
            "--refine": {"metavar": "SPACE", "help": "add a refinement section (dsd refine)"},
            "--figures": {"metavar": "DIR", "help": "also write each figure to DIR"},
            "--figure-format": {"default": "png", "choices": ("png", "pdf", "svg")},
        },
    ),
}


def register(sub) -> None:
    """Add the analysis commands to the ``dsd`` parser."""
    for name, (help_, examples, handler, arguments) in COMMANDS.items():
        epilog = "examples:\n" + "".join(f"  {line}\n" for line in examples.splitlines())
        p = add_command(sub, name, handler, help_, epilog=epilog)
        p.add_argument(
            "results", nargs="+", help="results files (.parquet, .csv, .json), each once"
        )
        for flags, keywords in {**COMMON, **arguments}.items():
            p.add_argument(*flags.split(), **keywords)
