"""``dsd time`` (inference and training-step times of models) and ``dsd runtime`` (runtime
against flops and activations, and the paper's comparison with ResNe(X)t and EfficientNet)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dsd.cli import ExampleFormatter
from dsd.errors import DsdError

TIME_EPILOG = """\
examples:
  dsd time RegNetY-400MF EfficientNet-B0 ResNet-50 --device cpu --batch-size 8 -o times.csv
  dsd time samples.parquet --resolution 64 --batch-size 16 -o times.parquet
  dsd time EfficientNet-B0 RegNetY-400MF --device cuda --batch-size 256 --amp --channels-last -o t.csv

A NAME is a zoo model (dsd show lists them: RegNetX/Y-*, ResNet-*, ResNeXt-*, EfficientNet-B0..B5);
a file is a samples or results table: its rows come back with the timing columns added (joined by
model_id), so analysis can use them. Times are the median of --repeats after --warmup iterations;
the training step is forward + backward + SGD step.
"""

RUNTIME_EPILOG = """\
examples:
  dsd runtime times.csv
  dsd runtime times.csv --time train_ms_per_image --figure runtime.png
  dsd runtime times.csv --compare-figure compare.png
"""


def _add_time(sub) -> None:
    p = sub.add_parser(
        "time",
        help="inference and training-step time of models, per batch and per image",
        description="Time each model: inference (forward, eval mode) and one training step "
        "(forward + backward + optimizer step), per batch and per image.",
        formatter_class=ExampleFormatter,
        epilog=TIME_EPILOG,
    )
    p.add_argument(
        "inputs", nargs="+", metavar="NAME|FILE", help="zoo model names or samples files"
    )
    p.add_argument("-o", "--output", required=True, help="timing table (.csv/.parquet/.json)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto (default cpu)")
    p.add_argument("--batch-size", type=int, default=8, help="batch size (default 8)")
    p.add_argument("--resolution", type=int, help="input resolution (default: each model's)")
    p.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    p.add_argument("--amp", action="store_true", help="autocast (bf16 on CPU, fp16 on CUDA)")
    p.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations (default 2)")
    p.add_argument("--repeats", type=int, default=5, help="timed iterations (default 5)")
    p.add_argument("--no-train", action="store_true", help="time inference only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_time)


def _add_runtime(sub) -> None:
    p = sub.add_parser(
        "runtime",
        help="runtime against flops and activations; named models against published figures",
        description="Correlate a timed population's runtime with flops, activations and params; "
        "for named models, set the published ImageNet error and V100 times beside the times "
        "measured here, with the EfficientNet/RegNetY time ratios at matched flops.",
        formatter_class=ExampleFormatter,
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
    p.set_defaults(func=cmd_runtime)


def register(sub) -> None:
    """Add ``dsd time`` and ``dsd runtime`` to the command line."""
    _add_time(sub)
    _add_runtime(sub)


def _is_file(text: str) -> bool:
    from dsd.io import TABLE_SUFFIXES

    return Path(text).suffix.lower() in TABLE_SUFFIXES or Path(text).exists()


def _config_of_row(row: dict):
    """The network config of a samples/results row (read_table gives list columns as lists)."""
    from dsd.nets import AnyNet, EfficientNet

    if row.get("family") == EfficientNet.family:
        return EfficientNet.from_dict(row)
    return AnyNet.from_dict(row)


def _jobs(inputs: list[str], resolution: int | None):
    """``(label, config, source)`` per model to time, every input checked before any timing."""
    from dsd.io import read_table
    from dsd.nets import zoo_model

    jobs, tables = [], []
    for text in inputs:
        if _is_file(text):
            df = read_table(text, required=("model_id", "depths", "widths"))
            if df.empty:
                raise DsdError(f"{text}: no models in the file")
            tables.append(df)
            seen = set()
            for i, row in enumerate(df.to_dict(orient="records")):
                mid = str(row["model_id"])
                if mid in seen:
                    continue
                seen.add(mid)
                try:
                    net = _config_of_row(row)
                except (DsdError, TypeError, ValueError) as e:
                    raise DsdError(f"{text}: row {i}: not a network ({e})") from None
                jobs.append((mid, net, text))
        else:
            jobs.append((text, zoo_model(text), None))
    if resolution is not None:
        jobs = [(label, net.replace(resolution=resolution), src) for label, net, src in jobs]
    return jobs, tables


def cmd_time(args: argparse.Namespace) -> int:
    """Handler of ``dsd time``."""
    import pandas as pd
    from tqdm import tqdm

    from dsd.io import check_output_path, write_table
    from dsd.nets import complexity
    from dsd.trainer.engine import pick_device
    from dsd.trainer.timing import TIMING_COLUMNS, time_model

    for name in ("batch_size", "repeats", "resolution", "threads"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise DsdError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    if args.warmup < 0:
        raise DsdError(f"--warmup must be >= 0, got {args.warmup}")
    out = check_output_path(args.output)
    pick_device(args.device)
    jobs, tables = _jobs(args.inputs, args.resolution)
    named, by_id = [], {}
    bar = tqdm(jobs, desc="timing", unit="model", file=sys.stderr, disable=args.no_progress)
    for label, net, source in bar:
        bar.set_postfix_str(label)
        t = time_model(
            net,
            batch_size=args.batch_size,
            device=args.device,
            channels_last=args.channels_last,
            amp=args.amp,
            warmup=args.warmup,
            repeats=args.repeats,
            threads=args.threads,
            train=not args.no_train,
        ).to_dict()
        if source is None:
            family = getattr(net, "family", "anynet")
            named.append(
                {"model": label, "family": family, "model_id": net.model_id, **complexity(net), **t}
            )
        else:
            by_id[label] = t
    bar.close()
    parts = [pd.DataFrame(named)] if named else []
    times = pd.DataFrame([{"model_id": k, **v} for k, v in by_id.items()])
    for df in tables:
        df = df.drop(columns=[c for c in TIMING_COLUMNS if c in df.columns])
        parts.append(df.assign(model_id=df["model_id"].astype(str)).merge(times, on="model_id"))
    result = pd.concat(parts, ignore_index=True)
    write_table(result, out)
    _print_times(result)
    print(
        f"timed {len(jobs)} model(s) on {result['time_device'].iloc[0]} "
        f"({result['time_threads'].iloc[0]} threads); wrote {out}"
    )
    return 0


def _print_times(df) -> None:
    import pandas as pd

    label = df["model"] if "model" in df.columns else pd.Series([None] * len(df))
    show = pd.DataFrame(
        {
            "model": label.fillna(df["model_id"]).astype(str),
            "MF": (df["flops"] / 1e6).round(1) if "flops" in df.columns else float("nan"),
            "M acts": (df["acts"] / 1e6).round(2) if "acts" in df.columns else float("nan"),
            "infer ms/batch": df["infer_ms"].round(2),
            "infer ms/img": df["infer_ms_per_image"].round(3),
            "train ms/batch": df["train_ms"].round(2),
            "train ms/img": df["train_ms_per_image"].round(3),
        }
    )
    print(show.to_string(index=False))


def cmd_runtime(args: argparse.Namespace) -> int:
    """Handler of ``dsd runtime``."""
    import pandas as pd

    from dsd.analysis.figures import check_figure_path, save_figure
    from dsd.analysis.runtime import (
        compare_models,
        effnet_ratios,
        plot_comparison,
        plot_runtime,
        runtime_correlations,
    )
    from dsd.io import read_table

    figs = {}
    for key, path in (("runtime", args.figure), ("compare", args.compare_figure)):
        if path:
            figs[key] = check_figure_path(path)
    df = pd.concat(
        [read_table(p, required=("model_id", args.time)) for p in args.inputs], ignore_index=True
    )
    corr = runtime_correlations(df, args.time)
    drawn = {}  # drawn before anything is printed: a figure that cannot be drawn is an error
    if "runtime" in figs:
        drawn["runtime"] = plot_runtime(df, args.time)
    if "compare" in figs:
        drawn["compare"] = plot_comparison(df, args.time)
    pd.set_option("display.width", 200)
    print(f"{args.time} against complexity ({len(df)} timed rows):")
    print(corr.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if "model" in df.columns and df["model"].notna().any():
        cmp = compare_models(df)
        if not cmp.empty:
            print("\npublished ImageNet figures (V100) and times measured here (ms per image):")
            print(cmp.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        ratios = effnet_ratios(df)
        print(
            "\nEfficientNet / RegNetY time ratios at matched flops (published V100, measured here):"
        )
        print(ratios.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    for key, fig in drawn.items():
        print(f"wrote {save_figure(fig, figs[key], dpi=120)}")
    return 0
