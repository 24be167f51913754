"""Synthetic results tables (the schema of docs/CONTRACTS.md) with planted structure, for analysis tests.

Errors are ``base + offset + curvature * (d - D_STAR)^2 + noise``: the best models have total depth
near ``D_STAR``, so the bootstrap of ``d`` must cover it. RegNet populations are generated with the
quantized linear rule from known ``(d, w0, wa, wm)``. Rows follow schema 2: the shared scalar
columns ``bottleneck_ratio`` (AnyNetXB+, RegNet) and ``group_width`` (AnyNetXC+, RegNet) exist only
for spaces that share the parameter, and ``regime`` holds the sampling range as JSON.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from dsd.analysis.fit import quantized_linear_widths
from dsd.schema import SCHEMA_VERSION

D_STAR = 20
SHARES_B = ("AnyNetXB", "AnyNetXC", "AnyNetXD", "AnyNetXE", "RegNetX", "RegNet")
SHARES_G = ("AnyNetXC", "AnyNetXD", "AnyNetXE", "RegNetX", "RegNet")


def _model_id(space: str, i: int, seed: int) -> str:
    """A stable 16-hex-char id."""
    return hashlib.sha1(f"{space}/{seed}/{i}".encode()).hexdigest()[:16]


def _complexity(depths: np.ndarray, widths: np.ndarray) -> tuple[int, int, int]:
    """Rough flops/params/acts of a 4-stage net at 224 input (monotone, not exact)."""
    side = 112 / 2 ** np.arange(1, 5)
    flops = int(np.sum(depths * widths**2 * side**2 * 3) + 1e7)
    params = int(np.sum(depths * widths**2 * 3) + 1e5)
    acts = int(np.sum(depths * widths * side**2 * 3) + 1e5)
    return flops, params, acts


def _anynet(rng: np.random.Generator) -> dict:
    """One random AnyNetX-like configuration."""
    depths = rng.integers(1, 11, 4)
    widths = np.sort(rng.integers(2, 65, 4)) * 8
    return {
        "depths": depths,
        "widths": widths,
        "depth": np.nan,
        "w0": np.nan,
        "wa": np.nan,
        "wm": np.nan,
    }


def _regnet(rng: np.random.Generator) -> dict:
    """One random 4-stage RegNet configuration, from known (d, w0, wa, wm)."""
    while True:
        d = int(rng.integers(12, 29))
        w0 = int(np.round(np.exp(rng.uniform(np.log(16), np.log(128))) / 8) * 8)
        wa = round(float(np.exp(rng.uniform(np.log(8), np.log(64)))), 1)
        wm = round(float(np.exp(rng.uniform(np.log(1.5), np.log(3)))), 3)
        block = quantized_linear_widths(d, w0, wa, wm).astype(int)
        widths, depths = np.unique(block, return_counts=True)
        if len(widths) == 4 and widths.max() <= 1024:
            return {"depths": depths, "widths": widths, "depth": d, "w0": w0, "wa": wa, "wm": wm}


def synthetic_results(
    n: int = 200,
    space: str = "AnyNetXA",
    seed: int = 0,
    offset: float = 0.0,
    noise: float = 0.01,
    failed: int = 3,
    regnet: bool = False,
    regime: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """A results DataFrame of ``n`` ok models plus ``failed`` failed ones.

    ``regime`` is written to the ``regime`` column as the flops range the rows were sampled in.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n + failed):
        cfg = _regnet(rng) if regnet else _anynet(rng)
        depths, widths = cfg["depths"], cfg["widths"]
        b = int(rng.choice([1, 2, 4]))
        g = int(rng.choice([1, 2, 4, 8, 16, 32]))
        flops, params, acts = _complexity(depths, widths)
        err = 0.30 + offset + 0.0004 * (depths.sum() - D_STAR) ** 2 + noise * rng.standard_normal()
        ok = i < n
        rows.append(
            {
                "model_id": _model_id(space, i, seed),
                "space": space,
                "seed": seed,
                "schema_version": SCHEMA_VERSION,
                "depths": [int(v) for v in depths],
                "widths": [int(v) for v in widths],
                "group_widths": [g] * 4,
                "bottleneck_ratios": [b] * 4,
                "built_widths": [int(v) for v in widths],
                "built_group_widths": [g] * 4,
                **({"bottleneck_ratio": b} if space in SHARES_B else {}),
                **({"group_width": g} if space in SHARES_G else {}),
                "regime": json.dumps({"flops": list(regime)} if regime else {}),
                "strides": [2] * 4,
                "stem": "simple_stem_in",
                "stem_width": 32,
                "block": "res_bottleneck_block",
                "se_ratio": 0.0,
                "head_width": 0,
                "num_classes": 10,
                "resolution": 32,
                "flops": flops,
                "params": params,
                "acts": acts,
                "depth": cfg["depth"],
                "w0": cfg["w0"],
                "wa": cfg["wa"],
                "wm": cfg["wm"],
                "dataset": "synthetic",
                "epochs": 10,
                "lr": 0.05,
                "weight_decay": 5e-5,
                "batch_size": 128,
                "momentum": 0.9,
                "warmup_epochs": 0,
                "label_smoothing": 0.0,
                "mixup_alpha": 0.0,
                "ema": False,
                "train_seed": 0,
                "status": "ok" if ok else "failed",
                "reason": "" if ok else "synthetic failure",
                "top1_err": float(np.clip(err, 0, 1)) if ok else np.nan,
                "top1_err_min": float(np.clip(err - 0.005, 0, 1)) if ok else np.nan,
                "train_loss": [2.0, 1.5, 1.2],
                "test_err": [0.6, 0.45, float(np.clip(err, 0, 1))],
                "train_seconds": 1.0,
                "images_per_second": 1000.0,
                "device": "cpu",
                "torch_version": "2.13.0",
                "finished_at": "2026-01-01T00:00:00+00:00",
            }
        )
    return pd.DataFrame(rows)
