"""The samples/results row schema: its version, the design columns, and reading older files.

A samples row holds the design **as drawn** from its space in ``depths``, ``widths``,
``group_widths`` and ``bottleneck_ratios`` (per-stage lists: every constraint of the space is
visible, e.g. one b and one g for AnyNetXC), and the per-stage values **as built** after the
compatibility rule in ``built_widths`` and ``built_group_widths`` (the rule changes neither depths
nor bottleneck ratios). A parameter the space shares across stages also has a scalar column
(``bottleneck_ratio``, ``group_width``); RegNet rows add ``depth``, ``w0``, ``wa``, ``wm``.
``regime`` is a JSON mapping of the complexity ranges the sample was matched on.

Version history: 1 (dsd 0.1) stored the built values in ``widths``/``group_widths`` and had no
``built_*``, shared-scalar or ``regime`` columns; 2 is the layout above.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping

import pandas as pd

from dsd.errors import DataError

SCHEMA_VERSION = 2
#: Per-stage design columns, as drawn.
DESIGN_COLUMNS = ("depths", "widths", "group_widths", "bottleneck_ratios")
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


def record_problem(record: object) -> str:
    """What keeps ``record`` from being a final result record ('' if nothing does).

    The one rule of a finished model (a run folder's records, the rows of an older results file
    a resume adopts): a mapping whose ``status`` is one of :data:`STATUSES`; an ``ok`` record
    also has a finite ``top1_err`` in [0, 1] (and so does its ``top1_err_min`` if it has one).
    A record that breaks it (a file edited by hand, half a disk's worth) is not a finished model.
    """
    if not isinstance(record, Mapping):
        return "not a JSON object"
    status = record.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        return f"status {status!r} is not one of {', '.join(STATUSES)}"
    if status != "ok":
        return ""
    for column in ("top1_err", "top1_err_min"):
        if column == "top1_err_min" and column not in record:
            continue
        value = record.get(column)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not 0.0 <= value <= 1.0:  # NaN fails both comparisons
            return f"status ok with {column} {value!r}, not a number in [0, 1]"
    return ""


def regime_json(ranges: dict[str, tuple[float, float]]) -> str:
    """The ``regime`` cell for complexity ranges, e.g. ``{"flops": [360000000.0, 400000000.0]}``."""
    return json.dumps({k: [float(lo), float(hi)] for k, (lo, hi) in ranges.items()}, sort_keys=True)


def upgrade(df: pd.DataFrame, source: str = "table") -> pd.DataFrame:
    """``df`` in the current schema: version-1 tables are converted, newer ones refused.

    A version-1 table recorded only the built per-stage values, so the conversion copies them into
    the ``built_*`` columns and says (once, on stderr) that its design columns are the built network,
    not the drawn design. Tables without ``schema_version`` (hand-made) are returned unchanged.
    """
    if "schema_version" not in df.columns or df.empty:
        return df
    versions = pd.to_numeric(df["schema_version"], errors="coerce")
    if versions.isna().any():
        raise DataError(f"{source}: schema_version is not a number in some rows")
    newest = int(versions.max())
    if newest > SCHEMA_VERSION:
        raise DataError(
            f"{source}: written with schema version {newest}, newer than this dsd's "
            f"{SCHEMA_VERSION}; upgrade dsd to read it"
        )
    old = versions < 2
    if not old.any():
        return df
    df = df.copy()
    for design, built in BUILT_COLUMNS.items():
        if design in df.columns:
            if built not in df.columns:
                df[built] = df[design]
            else:
                df.loc[old, built] = df.loc[old, design]
    if "regime" not in df.columns:
        df["regime"] = "{}"
    df.loc[old, "regime"] = df.loc[old, "regime"].fillna("{}")
    df["schema_version"] = SCHEMA_VERSION
    print(
        f"dsd: {source}: schema version 1 file converted: its design columns hold the built "
        "(compatibility-adjusted) network, not the drawn design",
        file=sys.stderr,
    )
    return df
