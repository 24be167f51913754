"""The samples/results row schema: its version, the design columns, and reading older files.

A samples row holds the design **as drawn** from its space in ``depths``, ``widths``,
``group_widths`` and ``bottleneck_ratios`` (per-stage lists: every constraint of the space is
visible, e.g. one b and one g for AnyNetXC), and the per-stage values **as built** after the
compatibility rule in ``built_widths`` and ``built_group_widths`` (the rule changes neither depths
nor bottleneck ratios). A parameter the space shares across stages also has a scalar column
(``bottleneck_ratio``, ``group_width``); RegNet rows add ``depth``, ``w0``, ``wa``, ``wm``.
``regime`` is a JSON mapping of the complexity ranges the sample was matched on. ``model_id``
names the network as built; ``design_id`` the design as drawn (:func:`dsd.spaces.space.design_id`:
the drawn per-stage lists, strides, RegNet's ``depth``, ``w0``, ``wa``, ``wm`` and the network
fields, hashed as ``model_id`` hashes the built ones). A population holds each design once, so two
rows may share a ``model_id``; rows are identified by (``space``, ``design_id``, ``train_seed``).

Version history: 1 (dsd 0.1) stored the built values in ``widths``/``group_widths`` and had no
``built_*``, shared-scalar or ``regime`` columns; 2 added them; 3 adds ``design_id`` (populations
de-duplicated on the drawn design; version 1 and 2 ones were de-duplicated on the built network,
so their ``design_id`` is their ``model_id``).
"""

from __future__ import annotations

import json
import math
import sys

import pandas as pd

from dsd.errors import DataError

SCHEMA_VERSION = 3
#: The design parameters of every kind of space: name -> (short form, per-stage column of a row).
#: Short forms name quantities of a drawn design (``d`` total depth, ``w2`` stage 2's width, see
#: :mod:`dsd.spaces.constraints`); RegNet's generator parameters have no per-stage column.
PARAMETERS: dict[str, tuple[str, str | None]] = {
    "depth": ("d", "depths"),
    "width": ("w", "widths"),
    "group_width": ("g", "group_widths"),
    "bottleneck_ratio": ("b", "bottleneck_ratios"),
    "w0": ("w0", None),
    "wa": ("wa", None),
    "wm": ("wm", None),
}
#: Per-stage design columns, as drawn.
DESIGN_COLUMNS = tuple(column for _, column in PARAMETERS.values() if column)
#: A RegNet row's drawn generator parameters (its ``depth`` is the total depth).
REGNET_COLUMNS = ("depth", "w0", "wa", "wm")
#: Per-stage columns as built (after the compatibility rule), keyed by the design column they adjust.
BUILT_COLUMNS = {"widths": "built_widths", "group_widths": "built_group_widths"}
#: What a samples table needs to be trained.
SAMPLE_REQUIRED = ("model_id", "depths", "widths", "num_classes", "resolution")

#: Columns a result record adds to its samples row (see docs/CONTRACTS.md for each).
RESULT_COLUMNS = (
    "dataset",
    "epochs",
    "lr",
    "weight_decay",
    "batch_size",
    "momentum",
    "nesterov",
    "warmup_epochs",
    "zero_init_residual",
    "label_smoothing",
    "mixup_alpha",
    "ema",
    "train_seed",
    "status",
    "reason",
    "top1_err",
    "top1_err_min",
    "train_loss",
    "test_err",
    "train_seconds",
    "images_per_second",
    "device",
    "torch_version",
    "dsd_version",
    "finished_at",
)
#: The recipe columns of a result (what `TrainConfig` sets identically for every model of a run).
RECIPE_COLUMNS = RESULT_COLUMNS[: RESULT_COLUMNS.index("train_seed")]
#: Final statuses of a result record.
STATUSES = ("ok", "diverged", "failed")
#: What a results table needs to be analysed, besides its metric column.
RESULTS_REQUIRED = ("model_id", "space", "status")
#: Columns of the report's best-models table (``top1_err`` stands for the analysed metric).
BEST_COLUMNS = (
    "model_id",
    "space",
    "top1_err",
    "depths",
    "widths",
    "built_widths",
    "bottleneck_ratios",
    "group_widths",
    "flops",
    "params",
    "acts",
)


def blank_result() -> dict:
    """Every result column with its empty value: a record that failed before training still has
    the whole schema (NaN errors, empty curves, empty strings)."""
    empty: dict = {c: math.nan for c in RESULT_COLUMNS}
    empty.update(train_loss=[], test_err=[], status="failed", reason="")
    for c in ("dataset", "device", "torch_version", "dsd_version", "finished_at"):
        empty[c] = ""
    return empty


def regime_json(ranges: dict[str, tuple[float, float]]) -> str:
    """The ``regime`` cell for complexity ranges, e.g. ``{"flops": [360000000.0, 400000000.0]}``."""
    return json.dumps({k: [float(lo), float(hi)] for k, (lo, hi) in ranges.items()}, sort_keys=True)


def upgrade(df: pd.DataFrame, source: str = "table") -> pd.DataFrame:
    """``df`` in the current schema: older tables are converted, newer ones refused.

    Version 1 recorded only the built per-stage values, so its conversion copies them into the
    ``built_*`` columns and says (once, on stderr) that its design columns are the built network,
    not the drawn design. Versions 1 and 2 get ``design_id = model_id`` (their populations were
    de-duplicated on the built network). Tables without ``schema_version`` (hand-made) are
    returned unchanged.
    """
    if "schema_version" not in df.columns or df.empty:
        return df
    versions = pd.to_numeric(df["schema_version"], errors="coerce")
    if not versions.map(lambda v: math.isfinite(v) and v >= 1 and float(v).is_integer()).all():
        raise DataError(f"{source}: schema_version is not a whole number >= 1 in some rows")
    if versions.max() > SCHEMA_VERSION:
        raise DataError(
            f"{source}: written with schema version {int(versions.max())}, newer than this "
            f"dsd's {SCHEMA_VERSION}; upgrade dsd to read it"
        )
    if (versions == SCHEMA_VERSION).all():
        return df
    df = df.copy()
    if (versions < 2).any():
        _from_version_1(df, versions < 2, source)
    if "model_id" in df.columns:
        df["design_id"] = df["model_id"].where(versions < 3, df.get("design_id"))
    df["schema_version"] = SCHEMA_VERSION
    return df


def _from_version_1(df: pd.DataFrame, old: pd.Series, source: str) -> None:
    """Version-1 rows in place: their design columns were the built network."""
    for design, built in BUILT_COLUMNS.items():
        if design in df.columns:
            if built not in df.columns:
                df[built] = df[design]
            else:
                df.loc[old, built] = df.loc[old, design]
    if "regime" not in df.columns:
        df["regime"] = "{}"
    df.loc[old, "regime"] = df.loc[old, "regime"].fillna("{}")
    print(
        f"dsd: {source}: schema version 1 file converted: its design columns hold the built "
        "(compatibility-adjusted) network, not the drawn design",
        file=sys.stderr,
    )
