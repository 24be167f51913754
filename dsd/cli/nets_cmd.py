"""``dsd show``: a model's structure and complexity, or a design space's domains and size."""

from __future__ import annotations

import argparse
import difflib

from dsd.cli import add_command, table
from dsd.errors import DsdError
from dsd.nets import complexity, layers, model_names, zoo_model


def show_model(net, title: str, with_layers: bool) -> str:
    """Per-stage structure as built, complexity and (optionally) a per-layer table."""
    cx = complexity(net)
    effnet = getattr(net, "family", None) == "efficientnet"
    lines = _effnet_stages(net, title) if effnet else _stages(net, title)
    lines += [
        "",
        f"flops {cx['flops']:,}  params {cx['params']:,}  acts {cx['acts']:,}",
        f"({cx['flops'] / 1e6:.1f} MF, {cx['params'] / 1e6:.2f} M params, {cx['acts'] / 1e6:.2f} M acts; model_id {net.model_id})",
    ]
    if with_layers:
        lines += ["", _layer_table(net, cx)]
    return "\n".join(lines)


def _stages(net, title: str) -> list[str]:
    """An AnyNet's header and per-stage table as built."""
    lines = [
        f"{title}: stem {net.stem} ({net.stem_width}), block {net.block}"
        + (f" + SE {net.se_ratio:g}" if net.se_ratio else "")
        + (f", head conv {net.head_width}" if net.head_width else "")
        + f", {net.num_classes} classes at {net.resolution}x{net.resolution}"
    ]
    rows = [("stage", "depth", "width", "group width", "b", "stride")]
    stages = zip(
        net.depths, net.built_widths, net.built_group_widths, net.bottleneck_ratios, net.strides
    )
    rows += [(f"s{i}", d, w, g, f"{b:g}", s) for i, (d, w, g, b, s) in enumerate(stages, 1)]
    lines.append(table(rows))
    if (net.widths, net.group_widths) != (net.built_widths, net.built_group_widths):
        lines.append(
            f"(designed widths {list(net.widths)}, group widths {list(net.group_widths)}; "
            "the compatibility rule builds the values above)"
        )
    return lines


def _effnet_stages(net, title: str) -> list[str]:
    """An EfficientNet's header and per-stage (MBConv) table."""
    header = (
        f"{title}: EfficientNet, stem 3x3 conv ({net.stem_width}), MBConv blocks + SE "
        f"{net.se_ratio:g}, head conv {net.head_width}, {net.num_classes} classes at "
        f"{net.resolution}x{net.resolution}"
    )
    rows = [("stage", "depth", "width", "expansion", "kernel", "stride")]
    stages = zip(net.depths, net.widths, net.exp_ratios, net.kernels, net.strides)
    rows += [
        (f"s{i}", d, w, f"{e:g}", f"{k}x{k}", s) for i, (d, w, e, k, s) in enumerate(stages, 1)
    ]
    return [header, table(rows)]


def _layer_table(net, cx: dict) -> str:
    """Per-layer flops, params and acts, with the totals."""
    rows = [
        ("layer", "op", "in", "out", "k", "stride", "groups", "size", "flops", "params", "acts")
    ]
    for x in layers(net):
        size = f"{x.h_out}x{x.h_out}"
        cost = (f"{x.flops:,}", f"{x.params:,}", f"{x.acts:,}")
        rows.append((x.name, x.op, x.w_in, x.w_out, x.k, x.stride, x.groups, size, *cost))
    rows.append(("total", *[""] * 7, f"{cx['flops']:,}", f"{cx['params']:,}", f"{cx['acts']:,}"))
    return table(rows, right_from=2)


def cmd_show(args: argparse.Namespace) -> int:
    from dsd.spaces import builtin_names, load_space  # lazy: dsd.spaces loads pandas (~0.5 s)

    network = {"resolution": args.resolution, "num_classes": args.classes}
    network = {k: v for k, v in network.items() if v is not None}
    if args.name.lower() in {k.lower() for k in model_names()}:
        print(show_model(zoo_model(args.name, **network), args.name, args.layers))
        return 0
    try:
        space = load_space(args.name)
    except DsdError:
        if args.name.endswith((".yaml", ".yml")) or "/" in args.name:
            raise
        raise DsdError(unknown_name(args.name, model_names(), builtin_names())) from None
    if args.layers:
        raise DsdError("--layers applies to a model, not to a space")
    print((space.with_network(**network) if network else space).describe())
    return 0


def unknown_name(name: str, models: list[str], spaces: list[str]) -> str:
    """One line for a name that is neither a model nor a space: the close matches first."""
    names = {n.lower(): n for n in [*models, *spaces]}
    close = difflib.get_close_matches(name.lower(), list(names), n=3, cutoff=0.6)
    guess = f"did you mean {' or '.join(names[c] for c in close)}? " if close else ""
    return (
        f"{name!r} is neither a model of the zoo nor a space: {guess}(spaces: {', '.join(spaces)}; "
        f"models: {', '.join(models)})"
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "show",
        cmd_show,
        "structure and complexity of a model, or the domains and size of a space",
        description="Show a model of the paper's zoo (per-stage depths, widths, group widths, b; flops, params, "
        "acts) or a design space (network fields, domains, distributions, constraints, size).",
        epilog="examples:\n  dsd show RegNetX-400MF\n  dsd show RegNetY-1.6GF --layers\n"
        "  dsd show RegNetX-200MF --resolution 32 --classes 10\n  dsd show ResNet-50\n"
        "  dsd show EfficientNet-B0 --layers\n  dsd show AnyNetXC\n  dsd show my_space.yaml",
    )
    p.add_argument(
        "name",
        metavar="MODEL|SPACE",
        help="a zoo model (RegNetX-400MF, ResNet-50, ResNeXt-50, ResNet-56, EfficientNet-B0), "
        "a space name or a YAML file",
    )
    layers_help = "per-layer table of flops, params and acts"
    p.add_argument("--layers", action="store_true", help=layers_help)
    p.add_argument("--resolution", type=int, help="input resolution (default: the model's/space's)")
    p.add_argument("--classes", type=int, help="number of classes (default: the model's/space's)")
