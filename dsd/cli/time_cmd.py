"""``dsd time`` (inference and training-step times of models) and ``dsd runtime`` (runtime
against flops and activations, and the paper's comparison with ResNe(X)t and EfficientNet)."""

from __future__ import annotations

import argparse
import sys

from dsd.cli import add_command
from dsd.errors import DsdError

TIME_EPILOG = """\
examples:
  dsd time RegNetY-400MF EfficientNet-B0 ResNet-50 --device cpu --batch-size 8
  dsd time RegNetY-400MF EfficientNet-B0 ResNet-50 --repeats 20 -o times.csv
  dsd time samples.parquet --resolution 64 --batch-size 16 -o times.parquet
  dsd time EfficientNet-B0 RegNetY-400MF --device cuda --batch-size 256 --precision fp16 \\
      --channels-last -o t.csv

A NAME is a zoo model (dsd show lists them: RegNetX/Y-*, ResNet-*, ResNeXt-*, EfficientNet-B0..B5);
a file is a samples or results table: its rows come back with the timing columns added (joined by
model_id), so analysis can use them. Times are the median of --repeats after --warmup iterations,
with their spread (IQR; the table's "spread" is IQR/median): above 20% a warning says the machine
looks busy. The training step is forward + backward + SGD step. Without -o the table is printed.
"""

RUNTIME_EPILOG = """\
examples:
  dsd runtime times.csv
  dsd runtime times.csv --time train_ms_per_image --figure runtime.png
  dsd runtime times.csv --compare-figure compare.png
"""


def register(sub) -> None:
    """Add ``dsd time`` and ``dsd runtime`` to the command line."""
    p = add_command(
        sub,
        "time",
        cmd_time,
        "inference and training-step time of models, per batch and per image",
        description="Time each model: inference (forward, eval mode) and one training step "
        "(forward + backward + optimizer step), per batch and per image.",
        epilog=TIME_EPILOG,
    )
    names = "zoo model names or samples files"
    p.add_argument("inputs", nargs="+", metavar="NAME|FILE", help=names)
    p.add_argument("-o", "--output", help="write the timing table here (.csv/.parquet/.json)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto (default cpu)")
    p.add_argument("--batch-size", type=int, default=8, help="batch size (default 8)")
    p.add_argument("--resolution", type=int, help="input resolution (default: each model's)")
    p.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    p.add_argument(
        "--precision",
        default="fp32",
        choices=("auto", "bf16", "fp16", "fp32"),
        help="autocast of the forward pass (default fp32; auto: bf16 on CUDA, as the trainer)",
    )
    p.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations (default 2)")
    p.add_argument("--repeats", type=int, default=5, help="timed iterations (default 5)")
    p.add_argument("--no-train", action="store_true", help="time inference only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p = add_command(
        sub,
        "runtime",
        cmd_runtime,
        "runtime against flops and activations; named models against published figures",
        description="Correlate a timed population's runtime with flops, activations and params; "
        "for named models, set the published ImageNet error and V100 times beside the times "
        "measured here, with the EfficientNet/RegNetY time ratios at matched flops.",
        epilog=RUNTIME_EPILOG,
    )
    p.add_argument("inputs", nargs="+", metavar="FILE", help="tables written by dsd time")
    p.add_argument(
        "--time",
        default="infer_ms_per_image",
        choices=("infer_ms_per_image", "train_ms_per_image", "infer_ms", "train_ms"),
        help="the time column (default infer_ms_per_image)",
    )
    p.add_argument("--figure", help="write runtime against flops and acts here (.png/.pdf/.svg)")
    p.add_argument(
        "--compare-figure",
        help="write published error against flops and against measured time (.png/.pdf/.svg)",
    )


def cmd_time(args: argparse.Namespace) -> int:
    """Handler of ``dsd time``."""
    # lazy: torch and pandas cost ~1.2 s at start-up; dsd --help stays fast
    from dsd.io import check_not_an_input, check_output_path, distinct_inputs, write_table
    from dsd.trainer import pick_device, spread_warning, time_inputs  # lazy: as above

    for name in ("batch_size", "repeats", "resolution", "threads"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise DsdError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    distinct_inputs(args.inputs)
    out = args.output and check_output_path(check_not_an_input(args.output, args.inputs))
    pick_device(args.device)
    same = "resolution batch_size device channels_last precision warmup repeats threads".split()
    result = time_inputs(
        args.inputs,
        progress=not args.no_progress,
        train=not args.no_train,
        **{k: getattr(args, k) for k in same},
    )
    if out:
        write_table(result, out)
    print(_times_text(result))
    named = int(result["model"].notna().sum()) if "model" in result else 0
    timed = named + result["model_id"].iloc[named:].nunique()
    where = f"{result['time_device'].iloc[0]} ({result['time_threads'].iloc[0]} threads)"
    print(f"timed {timed} model(s) on {where}" + (f"; wrote {out}" if out else ""))
    if warning := spread_warning(result):
        print(f"dsd time: warning: {warning}", file=sys.stderr)
    return 0


def _times_text(df) -> str:
    """The timing table as printed (spread: the larger IQR / median of the two times, in %)."""
    import pandas as pd  # lazy: ~0.3 s at start-up; only dsd time prints this table

    label = df["model"].fillna(df["model_id"]) if "model" in df.columns else df["model_id"]
    show = df.assign(model=label.astype(str))
    show["MF"] = (df["flops"] / 1e6).round(1) if "flops" in df.columns else float("nan")
    show["M acts"] = (df["acts"] / 1e6).round(2) if "acts" in df.columns else float("nan")
    columns = {
        "infer_ms": ("infer ms/batch", 2),
        "infer_ms_per_image": ("infer ms/img", 3),
        "train_ms": ("train ms/batch", 2),
        "train_ms_per_image": ("train ms/img", 3),
    }
    for col, (title, digits) in columns.items():
        show[title] = df[col].round(digits)
    spread = [df[f"{k}_ms_iqr"] / df[f"{k}_ms"] for k in ("infer", "train")]
    show["spread %"] = (100 * pd.concat(spread, axis=1).max(axis=1)).round(0)
    keep = ["model", "MF", "M acts", *(title for title, _ in columns.values()), "spread %"]
    return show[keep].to_string(index=False)


def cmd_runtime(args: argparse.Namespace) -> int:
    """Handler of ``dsd runtime``."""
    # lazy: matplotlib, scipy and pandas cost ~1.5 s at start-up; dsd --help stays fast
    import pandas as pd

    import dsd.analysis as analysis  # lazy: as above
    from dsd.io import check_not_an_input, distinct_inputs, read_table  # lazy: as above

    distinct_inputs(args.inputs)
    figs = {}
    for key, path in (("runtime", args.figure), ("compare", args.compare_figure)):
        if path:
            figs[key] = analysis.check_figure_path(check_not_an_input(path, args.inputs))
    df = pd.concat(
        [read_table(p, required=("model_id", args.time)) for p in args.inputs], ignore_index=True
    )
    corr = analysis.runtime_correlations(df, args.time)
    # drawn before anything is printed: a figure that cannot be drawn is an error
    plots = {"runtime": analysis.plot_runtime, "compare": analysis.plot_comparison}
    drawn = {key: plots[key](df, args.time) for key in figs}
    pd.set_option("display.width", 200)
    print(f"{args.time} against complexity ({len(df)} timed rows):")
    print(corr.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if "model" in df.columns and df["model"].notna().any():
        cmp = analysis.compare_models(df)
        if not cmp.empty:
            print("\npublished ImageNet figures (V100) and times measured here (ms per image):")
            print(cmp.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print(
            "\nEfficientNet / RegNetY time ratios at matched flops (published V100, measured here):"
        )
        print(analysis.effnet_ratios(df).to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    for key, fig in drawn.items():
        print(f"wrote {analysis.save_figure(fig, figs[key], dpi=120)}")
    return 0
