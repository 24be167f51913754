"""Model runtime: the paper's RegNets against ResNe(X)t and EfficientNet, inference and training.

Times each model with :func:`dsd.time_model` (median of ``--repeats`` after ``--warmup``; the
training step is forward + backward + SGD step) and prints one table: flops, activations, time per
image, then the correlation of time with flops and with activations over the models timed, and the
EfficientNet / RegNetY time ratios at matched flops beside the published V100 ratios.

Each model runs at its own resolution times ``--scale`` (EfficientNet-B5 at 456, RegNets at 224;
``--scale 0.25`` gives 114 and 56: the same networks, every size shrunk alike), so the CPU run ends
in minutes. On a GPU, run it at full scale with the published batch sizes in mind::

    python benchmarks/model_timing.py                                  # CPU: --scale 0.25, batch 8
    python benchmarks/model_timing.py --device cuda --scale 1 --batch-size 64 --repeats 20
    python benchmarks/model_timing.py --device cuda --scale 1 --batch-size 64 --precision fp16 --channels-last

The paper's claim to check on a GPU: RegNetY is up to 5x faster than EfficientNet at matched flops.
Published V100 figures (pycls MODEL_ZOO): EfficientNet-B0..B5 train 1.7-4.2x slower than the matched
RegNetY (100 epochs on 8 GPUs), and infer 6.5-31x slower per image (but at 4-16x smaller batches:
the largest that fit), see the printed table.

Measured (2026-11-29, 2 shared CPU cores, ``--threads 1``; other jobs ran beside it, so single
numbers swing by up to 2-4x between runs)::

    EfficientNet / RegNetY at matched flops    infer ratio         train ratio
                                               V100    here (CPU)  V100    here (CPU)
    B0 / RegNetY-400MF                         6.53    1.37        1.66    1.79
    B1 / RegNetY-600MF                         9.40    2.24        2.49    2.39
    B2 / RegNetY-800MF                        10.09    2.06        2.69    3.61
    B3 / RegNetY-1.6GF                         8.98    2.23        2.56    1.59
    B4 / RegNetY-4.0GF                        11.65    1.82        3.26    2.38
    B5 / RegNetY-8.0GF                        31.03    1.98        4.18    2.33
    correlation over the 16 models (Pearson r): infer vs flops 0.923, vs acts 0.921;
                                                train vs flops 0.863, vs acts 0.950
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from dsd.analysis.runtime import MATCHED_PAIRS, effnet_ratios, runtime_correlations
from dsd.nets import complexity, zoo_model
from dsd.trainer.timing import time_model

DEFAULT_MODELS = (
    *(name for pair in MATCHED_PAIRS for name in pair),
    "RegNetX-400MF",
    "RegNetX-4.0GF",
    "ResNet-50",
    "ResNeXt-50",
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    p.add_argument("--scale", type=float, help="resolution scale (default 0.25 on CPU, 1 else)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, help="CPU threads (default torch's)")
    p.add_argument("--precision", default="fp32", choices=("auto", "bf16", "fp16", "fp32"))
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--no-train", action="store_true")
    args = p.parse_args(argv)
    scale = args.scale if args.scale is not None else (0.25 if args.device == "cpu" else 1.0)

    rows = []
    for name in args.models:
        net = zoo_model(name)
        net = net.replace(resolution=max(8, round(net.resolution * scale)))
        t = time_model(
            net,
            batch_size=args.batch_size,
            device=args.device,
            channels_last=args.channels_last,
            precision=args.precision,
            warmup=args.warmup,
            repeats=args.repeats,
            threads=args.threads,
            train=not args.no_train,
        )
        rows.append({"model": name, **complexity(net), **t.to_dict()})
        r = rows[-1]
        print(
            f"  {name:<16} {r['time_resolution']:>4}px {r['flops'] / 1e6:9.1f} MF "
            f"{r['acts'] / 1e6:7.2f} M acts  infer {r['infer_ms_per_image']:9.3f}  "
            f"train {r['train_ms_per_image']:9.3f} ms/img",
            file=sys.stderr,
            flush=True,
        )
    df = pd.DataFrame(rows)
    first = df.iloc[0]
    print(
        f"{first['time_device']}, {first['time_threads']} threads, batch {args.batch_size}, "
        f"resolution x{scale:g}, precision {args.precision}, channels_last {args.channels_last}; "
        f"median of {args.repeats} after {args.warmup} warm-up"
    )
    table = pd.DataFrame(
        {
            "model": df["model"],
            "res": df["time_resolution"],
            "MF": (df["flops"] / 1e6).round(1),
            "M acts": (df["acts"] / 1e6).round(2),
            "infer ms/img": df["infer_ms_per_image"].round(3),
            "train ms/img": df["train_ms_per_image"].round(3),
        }
    )
    print(table.to_string(index=False))
    if len(df) >= 3:
        for col in ("infer_ms_per_image", "train_ms_per_image"):
            if df[col].notna().all():
                c = runtime_correlations(df, col, metrics=("flops", "acts"))
                print(f"\n{col} against complexity over these models:")
                print(c.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    ratios = effnet_ratios(df).dropna(subset=["measured_infer_ratio"])
    if not ratios.empty:
        print("\nEfficientNet / RegNetY time ratio at matched flops (published V100 vs measured):")
        cols = ["efficientnet", "regnety", "flops_b", "v100_infer_ratio", "measured_infer_ratio"]
        cols += ["v100_train_ratio", "measured_train_ratio"]
        print(ratios[cols].to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
