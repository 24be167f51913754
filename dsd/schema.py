"""The samples/results row schema (docs/CONTRACTS.md): its version, its columns and their checks,
and reading older files (version 1: built values in ``widths``; 2 added ``built_*``, shared
scalars and ``regime``; 3 adds ``design_id``)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping

import numpy as np
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
RESULT_COLUMNS = tuple(
    """
    dataset epochs lr weight_decay batch_size momentum nesterov warmup_epochs
    zero_init_residual label_smoothing mixup_alpha ema train_seed status reason top1_err
    top1_err_min train_loss test_err train_seconds images_per_second device torch_version
    dsd_version finished_at
    """.split()
)
#: The recipe columns of a result (what `TrainConfig` sets identically for every model of a run).
RECIPE_COLUMNS = RESULT_COLUMNS[: RESULT_COLUMNS.index("train_seed")]
#: Final statuses of a result record.
STATUSES = ("ok", "diverged", "failed")
#: What a results table needs to be analysed, besides its metric column.
RESULTS_REQUIRED = ("model_id", "space", "status")
#: Columns of the report's best-models table (``top1_err`` stands for the analysed metric).
BEST_COLUMNS = tuple(
    """
    model_id space top1_err depths widths built_widths bottleneck_ratios group_widths flops
    params acts
    """.split()
)


def blank_result() -> dict:
    """Every result column with its empty value (a model that failed before training)."""
    text = dict.fromkeys(("dataset", "device", "torch_version", "dsd_version", "finished_at"), "")
    rest = {"train_loss": [], "test_err": [], "status": "failed", "reason": ""}
    return {c: math.nan for c in RESULT_COLUMNS} | text | rest


def _plain(v: object) -> bool:
    """Not a string with a newline or another unprintable character (it would split lines)."""
    return not isinstance(v, str) or v.isprintable()


def record_problem(record: object) -> str:
    """What keeps ``record`` from being a finished model's record ('' if nothing does): a mapping
    with a status of :data:`STATUSES`; if ``ok``, its ``top1_err`` (and ``top1_err_min``, if
    present) a number in [0, 1]."""
    if not isinstance(record, Mapping):
        return "not a JSON object"
    status = record.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        return f"status {status!r} is not one of {', '.join(STATUSES)}"
    if status != "ok":
        return ""
    for column in [c for c in ERROR_COLUMNS if c in record or c == "top1_err"]:
        value = record.get(column)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not 0.0 <= value <= 1.0:  # NaN fails both comparisons
            return f"status ok with {column} {value!r}, not a number in [0, 1]"
    return ""


def regime_json(ranges: dict[str, tuple[float, float]]) -> str:
    """The ``regime`` cell for complexity ranges, e.g. ``{"flops": [360000000.0, 400000000.0]}``."""
    return json.dumps({k: [float(lo), float(hi)] for k, (lo, hi) in ranges.items()}, sort_keys=True)


def upgrade(df: pd.DataFrame, source: str = "table") -> pd.DataFrame:
    """``df`` in the current schema: older tables are converted, newer ones refused, tables
    without ``schema_version`` returned unchanged. Versions 1 and 2 get ``design_id = model_id``
    (their populations were de-duplicated on the built network)."""
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
            df[built] = df[design].where(old, df[built]) if built in df.columns else df[design]
    if "regime" not in df.columns:
        df["regime"] = "{}"
    df.loc[old, "regime"] = df.loc[old, "regime"].fillna("{}")
    print(
        f"dsd: {source}: schema version 1 file converted: its design columns hold the built "
        "(compatibility-adjusted) network, not the drawn design",
        file=sys.stderr,
    )


#: Columns that hold one number a row (NaN = missing); anything else (text, a list, inf) is refused.
NUMBER_COLUMNS = tuple(
    """
    seed stem_width se_ratio head_width num_classes resolution bottleneck_ratio group_width
    depth w0 wa wm flops params acts epochs lr weight_decay batch_size momentum warmup_epochs
    label_smoothing mixup_alpha ema train_seed train_seconds images_per_second infer_ms
    infer_ms_per_image train_ms train_ms_per_image
    """.split()
)
#: Error columns: fractions in [0, 1]; NaN and +-inf are kept (analysis names them in its ledger).
ERROR_COLUMNS = ("top1_err", "top1_err_min")
#: Per-stage list columns: lists of finite numbers, one entry a stage, of one length in a row.
STAGE_LIST_COLUMNS = (*DESIGN_COLUMNS, *BUILT_COLUMNS.values(), "strides")
#: Per-epoch list columns: lists of numbers (NaN allowed: a diverged epoch).
CURVE_COLUMNS = ("train_loss", "test_err")
#: Complexity names a ``regime`` may hold.
REGIME_KEYS = ("flops", "params", "acts")
#: Text columns that name things: printable (a newline in a name would split tables and lines).
NAME_COLUMNS = ("model_id", "design_id", "space", "status", "dataset", "task_id")
TEXT_COLUMNS = tuple(
    """
    model_id design_id space status reason dataset device torch_version dsd_version
    finished_at stem block task_id
    """.split()
)


def check_table(df: pd.DataFrame, source: str = "table") -> pd.DataFrame:
    """``df`` if its known columns hold what the schema says (a number in a text column becomes
    its text); else a DataError naming ``source``, the column and the first bad row (0-based),
    e.g. ``r.csv: column flops, row 3: 'abc' is not a number``."""
    if "schema_version" in df.columns:
        _numbers(df["schema_version"], "schema_version", source, low=1, whole=True, missing=False)
    for c in NUMBER_COLUMNS:
        if c in df.columns:
            _numbers(df[c], c, source)
    for c in ERROR_COLUMNS:
        if c in df.columns:
            _numbers(df[c], c, source, low=0, high=1, inf=True)
    if "model_id" in df.columns and df["model_id"].isna().any():
        _refuse(source, "model_id", df["model_id"].isna(), "missing (every row needs an id)")
    texts = {c: _text(df[c], c, source) for c in TEXT_COLUMNS if c in df.columns}
    for c in (c for c in NAME_COLUMNS if c in texts):  # in order: the first bad column is named
        if all(_plain(v) for v in pd.unique(texts[c].dropna())):  # few distinct names: fast
            continue
        bad = ~texts[c].map(_plain)
        _refuse(source, c, bad, f"{texts[c][bad].iloc[0][:40]!r} is not a plain name")
    if any(not t.equals(df[c]) for c, t in texts.items()):
        df = df.assign(**texts)
    _stage_lists(df, source)
    for c in CURVE_COLUMNS:
        if c in df.columns:
            _lists(df[c], c, source, finite=False)
    if "regime" in df.columns:
        problems = {c: _regime_problem(c) for c in pd.unique(df["regime"].map(_hashable))}
        for i, cell in enumerate(df["regime"].map(_hashable)):
            if problems[cell]:
                raise DataError(f"{source}: column regime, row {i}: {problems[cell]}"[:500])
    return df


def _refuse(source: str, column: str, bad: pd.Series, what: str) -> None:
    """DataError for the first row of ``bad`` (a boolean Series)."""
    i = int(np.flatnonzero(bad.to_numpy())[0])
    raise DataError(f"{source}: column {column}, row {i}: {what}"[:500])


def _numbers(col, name, source, *, low=None, high=None, whole=False, inf=False, missing=True):
    """Refuse a cell of ``col`` that is not a number (or out of range, infinite, fractional)."""
    v = pd.to_numeric(col, errors="coerce").astype(float)
    text = v.isna() & col.notna()
    if text.any():
        _refuse(source, name, text, f"{str(col[text].iloc[0])[:40]!r} is not a number")
    if not missing and v.isna().any():
        _refuse(source, name, v.isna(), "missing")
    a = v.to_numpy()
    if not inf and np.isinf(a).any():
        _refuse(source, name, pd.Series(np.isinf(a)), f"{a[np.isinf(a)][0]} is not finite")
    fin = np.isfinite(a)
    checks = [(fin & (a != np.round(a)), "not a whole number")] if whole else []
    if low is not None:
        checks.append((fin & (a < low), f"below {low:g}"))
    if high is not None:
        checks.append((fin & (a > high), f"above {high:g}"))
    for bad, what in checks:
        if bad.any():
            hint = " (errors are fractions: 25% is 0.25)" if name in ERROR_COLUMNS else ""
            _refuse(source, name, pd.Series(bad), f"{a[bad][0]:g} is {what}{hint}")


def _text(col: pd.Series, name: str, source: str) -> pd.Series:
    """``col`` with every present cell as text; DataError for a list, a mapping or bytes."""
    if pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty"):
        return col
    bad = col.map(lambda v: not (isinstance(v, str | int | float | bool | np.generic) or v is None))
    if bad.any():
        _refuse(source, name, bad, f"{str(col[bad].iloc[0])[:40]!r} is not a name")
    return col.map(lambda v: v if v is None or isinstance(v, str) or _nan(v) else str(v))


def _hashable(v):
    """A regime cell as a dictionary key (text stays text; anything else its repr)."""
    return v if v is None or isinstance(v, str | float) else repr(v)


def _nan(v) -> bool:
    """A float NaN (a missing cell)."""
    return isinstance(v, float | np.floating) and bool(np.isnan(v))


def _as_numbers(cell) -> np.ndarray | None:
    """A list cell as a 1-d float array, or None when it is not a list of numbers."""
    if isinstance(cell, np.ndarray) and cell.dtype.kind in "iufb":  # parquet's lists
        return cell.astype(float, copy=False) if cell.ndim == 1 else None
    if isinstance(cell, str | bytes | dict) or not hasattr(cell, "__len__"):
        return None
    try:
        a = np.asarray(list(cell), dtype=float)
    except (TypeError, ValueError):
        return None
    return a if a.ndim == 1 else None


def _lists(col: pd.Series, name: str, source: str, finite: bool = True) -> list[int | None]:
    """The length of each list cell (None where missing); a DataError for any other cell."""
    what = "a list of finite numbers" if finite else "a list of numbers"
    out: list[int | None] = []
    arrays = []
    for i, cell in enumerate(col):
        if cell is None or _nan(cell):
            out.append(None)
            continue
        a = _as_numbers(cell)
        if a is None:
            raise DataError(f"{source}: column {name}, row {i}: {str(cell)[:40]!r} is not {what}")
        arrays.append((i, a))
        out.append(a.size)
    if finite and arrays and not np.isfinite(np.concatenate([a for _, a in arrays])).all():
        i = next(i for i, a in arrays if not np.isfinite(a).all())
        raise DataError(
            f"{source}: column {name}, row {i}: {str(col.iloc[i])[:40]!r} is not {what}"
        )
    return out


def _stage_lists(df: pd.DataFrame, source: str) -> None:
    """Every per-stage list is a list of finite numbers, all of one length within a row."""
    lengths = {c: _lists(df[c], c, source) for c in STAGE_LIST_COLUMNS if c in df.columns}
    if len(lengths) < 2:
        return
    first, *rest = lengths
    for c in rest:
        for i, (a, b) in enumerate(zip(lengths[first], lengths[c], strict=True)):
            if a is not None and b is not None and a != b:
                raise DataError(
                    f"{source}: column {c}, row {i}: {b} stages, but {first} has {a} (one "
                    "entry a stage)"
                )


def _regime_problem(cell) -> str:
    """'' if ``cell`` is a valid regime (missing, or JSON ``{"flops": [low, high], ...}``)."""
    if cell is None or _nan(cell):
        return ""
    try:
        regime = json.loads(cell) if isinstance(cell, str) else None
    except ValueError:
        regime = None
    if not isinstance(regime, dict):
        return f'{str(cell)[:40]!r} is not a JSON object such as {{"flops": [1e6, 2e6]}}'
    for key, value in regime.items():
        if key not in REGIME_KEYS:
            return f"unknown complexity {str(key)[:40]!r} (use {', '.join(REGIME_KEYS)})"
        ok = isinstance(value, list) and len(value) == 2
        ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        if not ok or not value[0] <= value[1]:  # NaN fails the comparison
            return f"{key}: {str(value)[:40]} is not a range [low, high] of two numbers"
        if value[0] < 0 or math.isinf(value[0]):
            return f"{key}: {str(value)[:40]} has a low end that is negative or infinite"
    return ""
