"""``dsd spaces`` and ``dsd sample``: list the design spaces; draw flop-matched samples."""

from __future__ import annotations

import argparse

from dsd.cli import add_command, table
from dsd.errors import DsdError
from dsd.nets import STEMS
from dsd.validate import parse_range as parse_count_range


def parse_range(text: str) -> tuple[float, float]:
    """``'LO:HI'`` for argparse (see :func:`dsd.validate.parse_range`)."""
    try:
        return parse_count_range(text, "range")
    except DsdError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("range: ")) from None


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _sizes(space) -> tuple[str, str, str]:
    """A space's exact size, its size in short and the paper's."""
    short = [f"{float(n):.2e}" if n is not None else "-" for n in (space.size, space.paper_size)]
    return f"{space.size:,}", *short


def cmd_spaces(args: argparse.Namespace) -> int:
    from dsd.spaces import list_spaces, load_space  # lazy: pandas, ~0.5 s; dsd --help stays fast

    spaces = [load_space(s) for s in args.spaces] if args.spaces else list_spaces()
    rows = [("name", "parent", "added constraint", "dof", "size (exact)", "size", "paper")]
    rows += [
        (s.name, s.parent or "-", s.added, str(s.degrees_of_freedom), *_sizes(s)) for s in spaces
    ]
    print(table(rows, right_from=3))
    print(
        "\nsize: AnyNet spaces count configurations exactly (multisets for non-decreasing constraints);"
        "\nRegNet spaces count the quantized (d, w0, wa, wm, b, g) grid the sampler draws from."
    )
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from dsd.io import check_output_path, write_table  # lazy: pandas, ~0.5 s; dsd --help stays fast
    from dsd.spaces import load_space  # lazy: pandas, ~0.5 s; dsd --help stays fast

    out = check_output_path(args.output)
    space = load_space(args.space)
    network = {"resolution": args.resolution, "num_classes": args.classes, "stem": args.stem}
    df = space.sample(
        args.n, flops=args.flops, params=args.params, acts=args.acts, seed=args.seed, **network
    )
    write_table(df, out)
    st = df.attrs["sample_stats"]
    print(
        f"sampled {len(df)} models from {space.name} (seed {args.seed}) in {st['seconds']:.3f} s: "
        f"{st['drawn']:,} candidates drawn, {st['in_range']:,} in range -> {out}"
    )
    desc = df[["flops", "params", "acts"]].describe().loc[["min", "50%", "max"]] / 1e6
    desc = desc.round(2).rename(index={"50%": "median"})
    print(desc.to_string(float_format=lambda x: f"{x:.2f}M"))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "spaces",
        cmd_spaces,
        "list the design spaces with their exact sizes",
        description="List built-in design spaces (or the given files): parent, added constraint, exact size and the paper's Table 1 figure.",
        epilog="examples:\n  dsd spaces\n  dsd spaces my_space.yaml",
    )
    where = "space names or YAML files (default: the built-ins)"
    p.add_argument("spaces", nargs="*", metavar="SPACE", help=where)

    p = add_command(
        sub,
        "sample",
        cmd_sample,
        "draw n distinct models of a space within a complexity regime",
        description="Draw N distinct models from a design space, keeping those whose complexity lies in the given "
        "ranges, and write them (one row a model) to a parquet/csv/json file.",
        epilog="examples:\n  dsd sample --space AnyNetXC --n 500 --flops 360M:400M --seed 0 -o samples.parquet\n"
        "  dsd sample --space RegNetY --n 100 --flops 0.38e9:0.42e9 --params :5M -o y.parquet\n"
        "  dsd sample --space AnyNetXA --n 32 --resolution 32 --classes 10 --flops 1e6:4e6 -o s.parquet\n"
        "  dsd sample --space my_space.yaml --n 50 -o mine.parquet",
    )
    p.add_argument("--space", required=True, help="a built-in space name or a YAML file")
    p.add_argument("--n", type=positive_int, required=True, help="number of models")
    flops = "flops range, e.g. 360M:400M or 360e6:400e6"
    p.add_argument("--flops", type=parse_range, metavar="LO:HI", help=flops)
    p.add_argument("--params", type=parse_range, metavar="LO:HI", help="parameter-count range")
    p.add_argument("--acts", type=parse_range, metavar="LO:HI", help="activation-count range")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--resolution", type=positive_int, help="input resolution (overrides the space's)"
    )
    p.add_argument("--classes", type=positive_int, help="number of classes (overrides the space's)")
    p.add_argument("--stem", choices=tuple(STEMS), help="stem (overrides the space's)")
    p.add_argument("-o", "--output", required=True, help="output file (.parquet, .csv or .json)")
