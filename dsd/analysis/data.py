"""Reading results for analysis: each file once and validated, and why each row is excluded.

Also the scalar parameters derived from the per-stage columns, and the regime a population was
sampled in. The error metric is a column of fractions in [0, 1] (``top1_err`` or ``top1_err_min``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from dsd.analysis.stats import check_fractions
from dsd.errors import DataError, DsdError
from dsd.io import distinct_inputs, lists_from_json, read_table
from dsd.io import is_list as _is_list
from dsd.schema import (
    NUMBER_COLUMNS,
    PARAMETERS,
    RECIPE_COLUMNS,
    RESULTS_REQUIRED,
    STATUSES,
    check_table,
)

ERROR = "top1_err"
#: Why a row read is not analysed, in the order they are checked (a row gets the first).
REASONS = (
    "filtered out",
    "failed",
    "diverged",
    "unknown status",
    "non-finite metric",
    "missing group key",
)
#: Shared scalar and per-stage list columns by their short names (from :data:`dsd.schema.PARAMETERS`).
SHARED = {p: PARAMETERS[p][0] for p in ("bottleneck_ratio", "group_width")}
LIST_PARAMS = {column: short for short, column in PARAMETERS.values() if column}
SCALARS = ("flops", "params", "acts", "depth", "w0", "wa", "wm")
#: What results are read from: a DataFrame, or one or more results files.
Results = pd.DataFrame | Sequence[str | os.PathLike] | str | os.PathLike


def parse_filter(text: str) -> tuple[str, tuple[str, ...]]:
    """Parse ``key=v1,v2`` into ``(key, (v1, v2))``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise DsdError(
            f"filter {text!r}: expected key=value (e.g. status=ok or space=AnyNetXA,RegNet)"
        )
    return key.strip(), tuple(v.strip() for v in value.split(","))


def _matches(column: pd.Series, values: tuple[str, ...]) -> pd.Series:
    """Rows whose value equals one of ``values``, compared as text or as numbers."""
    mask = column.astype(str).isin(values)
    nums = []
    for v in values:
        try:
            nums.append(float(v))
        except ValueError:
            pass
    if nums:
        mask |= pd.to_numeric(column, errors="coerce").isin(nums)
    return mask


def exclusions(df: pd.DataFrame, filters: Iterable[str] = (), metric: str = ERROR) -> pd.Series:
    """For each row, the first of :data:`REASONS` that applies ('' when it is analysed);
    ``status=ok`` is implied unless a filter names ``status``."""
    parsed = [parse_filter(f) for f in filters]
    reason = pd.Series("", index=df.index, dtype=object)

    def mark(mask, why: str) -> None:
        reason[(reason == "") & np.asarray(mask, dtype=bool)] = why

    for key, values in parsed:
        if key not in df.columns:
            raise DsdError(f"filter {key}=...: no column {key!r} in the results")
        mark(~_matches(df[key], values), "filtered out")
    if not any(k == "status" for k, _ in parsed):
        status = df["status"]
        for why in ("failed", "diverged"):
            mark(status == why, why)
        mark(~status.isin(STATUSES), "unknown status")
    mark(
        ~np.isfinite(pd.to_numeric(df[metric], errors="coerce").astype(float)), "non-finite metric"
    )
    return reason


def read_results(paths: Sequence[str | os.PathLike], metric: str = ERROR) -> pd.DataFrame:
    """Read and concatenate results files; DataError naming the first unusable one."""
    if not paths:
        raise DsdError("no results files given")
    try:
        files = distinct_inputs(paths)
    except DsdError as e:
        first = str(e).split(";")[0]
        raise DataError(
            f"{first}: every model in it appears 2 times; give each results file once"
        ) from None
    frames = [read_table(p, required=(*RESULTS_REQUIRED, metric)) for p in files]
    for p, f in zip(paths, frames, strict=True):
        check_metric(f, metric, str(p))
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    refuse_repeats(df, [str(p) for p, f in zip(paths, frames, strict=True) for _ in range(len(f))])
    return df


def check_metric(df: pd.DataFrame, metric: str, source: str = "results") -> None:
    """DataError unless ``df[metric]`` holds numbers whose finite values are fractions in [0, 1]."""
    if not isinstance(metric, str) or not metric:
        raise DsdError(f"metric must be a column name, got {metric!r}")
    if metric not in df.columns:
        raise DataError(f"{source}: no column {metric!r} (the error metric)")
    values = pd.to_numeric(df[metric], errors="coerce")
    bad = values.isna() & df[metric].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{source}: column {metric}, row {row}: not a number (the error metric)")
    try:
        check_fractions(values.to_numpy(dtype=float), f"{source}: column {metric}: errors")
    except DsdError as e:
        raise DataError(str(e)) from None


def _typed(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` as comparable values: numbers as floats, others as text, missing as NaN (so NaN
    equals NaN, and 0 equals 0.0, in ``duplicated``)."""
    out = {}
    for c in columns:
        if c in NUMBER_COLUMNS or c == "train_seed":
            out[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
        else:
            out[c] = df[c].map(lambda v: v if _missing(v) else str(v))
    return pd.DataFrame(out, index=df.index)


def _missing(v) -> bool:
    """A missing scalar cell (None or NaN)."""
    return v is None or (isinstance(v, float) and np.isnan(v))


def refuse_repeats(df: pd.DataFrame, sources: Sequence[str]) -> None:
    """DataError if a row repeats (``space``, design id, ``train_seed``), or one design was
    trained with two recipes: it would count twice in every EDF and test."""
    if not len(df):
        return
    ident = "design_id" if "design_id" in df.columns else "model_id"
    if ident == "design_id":  # schema 3: a row is a design (two designs may build one model)
        df = df.assign(design_id=df["design_id"].fillna(df["model_id"]))
    src = pd.Series(list(sources), index=df.index)
    key = _typed(df, ["space", ident, *(["train_seed"] if "train_seed" in df.columns else [])])
    dup = key.duplicated(keep=False)
    if dup.any():
        first = df.loc[dup.idxmax()]
        rows = key.index[dup & (key[ident] == key.loc[dup.idxmax(), ident])]
        files = " and ".join(dict.fromkeys(src[rows]))
        raise DataError(
            f"model {first[ident]} of space {first['space']} appears {len(rows)} times "
            f"(in {files}; {int(dup.sum())} rows repeat a model); give each results file once "
            "and keep one row per model and training seed"
        )
    recipe = [c for c in RECIPE_COLUMNS if c in df.columns]
    if recipe:
        per_model = _typed(df, ["space", ident, *recipe]).drop_duplicates()
        mixed = per_model.duplicated(["space", ident], keep=False)
        if mixed.any():
            row = per_model[mixed].iloc[0]
            raise DataError(
                f"model {row[ident]} of space {row['space']} was trained with different "
                f"recipes (one of {', '.join(recipe)} differs) in {' and '.join(dict.fromkeys(sources))}; "
                "compare runs of one recipe, or select one with --filter"
            )


def read_any(results: Results, metric: str = ERROR) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Every row of ``results`` (a DataFrame or results files), validated, and the file names."""
    if isinstance(results, pd.DataFrame):
        missing = [c for c in (*RESULTS_REQUIRED, metric) if c not in results.columns]
        if missing:
            raise DataError(f"results are missing column(s) {', '.join(missing)}")
        df = check_table(lists_from_json(results), "results")  # a frame read from CSV by hand
        check_metric(df, metric)
        refuse_repeats(df, ["the results"] * len(df))
        return df.reset_index(drop=True), ()
    paths = [results] if isinstance(results, str | os.PathLike) else list(results)
    return read_results(paths, metric), tuple(str(p) for p in paths)


def load_results(
    results: Results, filters: Iterable[str] = (), metric: str = ERROR
) -> pd.DataFrame:
    """The rows of ``results`` that are analysed (see :func:`exclusions`)."""
    df, _ = read_any(results, metric)
    return df[exclusions(df, filters, metric) == ""].reset_index(drop=True)


def regime_range(df: pd.DataFrame, column: str = "flops") -> tuple[float, float] | None:
    """The ``column`` range every row was sampled in (its ``regime`` JSON, e.g. ``{"flops": [360e6,
    400e6]}``), or None when a row has none or the rows disagree."""
    if "regime" not in df.columns or df.empty:
        return None
    ranges = set()
    for text in df["regime"].unique():
        # a row without a JSON object naming [lo, hi] for column has no range
        try:
            regime = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            return None
        value = regime.get(column) if isinstance(regime, dict) else None
        if not (isinstance(value, list) and len(value) == 2):
            return None
        try:
            lo, hi = map(float, value)
        except (TypeError, ValueError):
            return None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            return None
        ranges.add((lo, hi))
    return ranges.pop() if len(ranges) == 1 else None


def groups(df: pd.DataFrame, by: str = "space") -> dict[str, pd.DataFrame]:
    """Split ``df`` by the column ``by``, in order; a row without a ``by`` is a DsdError."""
    key = group_key(df, by)
    if key.isna().any():
        raise DsdError(f"--by {by}: {int(key.isna().sum())} row(s) have no {by}")
    return {name: g.reset_index(drop=True) for name, g in df.groupby(key, sort=False)}


def group_key(df: pd.DataFrame, by: str) -> pd.Series:
    """The population name of each row: ``df[by]`` as text (``16``, not ``16.0``), NaN if missing."""
    if by not in df.columns:
        raise DsdError(f"--by {by}: no column {by!r} in the results")
    if df[by].map(_is_list).any():
        raise DsdError(
            f"--by {by}: a per-stage list column cannot name populations (use e.g. space)"
        )

    def name(v) -> str | float:
        if _missing(v):
            return np.nan
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        return str(v)

    return df[by].map(name)


def stack(column: pd.Series) -> np.ndarray:
    """A list column as a 2-d float array, NaN-padded to the longest list."""
    lists = [
        np.atleast_1d(np.asarray(v, dtype=float)) if _is_list(v) else np.array([]) for v in column
    ]
    width = max((len(v) for v in lists), default=0)
    out = np.full((len(lists), width), np.nan)
    for i, v in enumerate(lists):
        out[i, : len(v)] = v
    return out


def derived_params(df: pd.DataFrame) -> pd.DataFrame:
    """Scalar parameters, one row per row of ``df``: ``d`` (total depth), per-stage ``d1..``,
    ``w1..``, ``b1..``, ``g1..``, ``w_ratio1..`` (``w_{i+1} / w_i``), shared ``b`` and ``g`` (NaN
    where not shared), and the complexity and RegNet columns present."""
    out = {}
    for column, short in LIST_PARAMS.items():
        if column not in df.columns:
            continue
        a = stack(df[column])
        if column == "depths":
            out["d"] = np.nansum(a, axis=1) if a.size else np.full(len(df), np.nan)
        for i in range(a.shape[1]):
            out[f"{short}{i + 1}"] = a[:, i]
        if column == "widths":
            for i in range(a.shape[1] - 1):
                out[f"w_ratio{i + 1}"] = a[:, i + 1] / a[:, i]
    names = {**SHARED, **{c: c for c in SCALARS}}  # column -> its name here
    for column, short in names.items():
        if column in df.columns:
            out[short] = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
    return pd.DataFrame(out, index=df.index)


def param_values(df: pd.DataFrame, name: str) -> tuple[list[str], np.ndarray]:
    """Labels and a (models, k) array for a parameter (``depths`` gives ``d1..d4``)."""
    if name in LIST_PARAMS:
        if name not in df.columns:
            raise DsdError(f"parameter {name!r}: no column {name!r} in the results")
        a = stack(df[name])
        return [f"{LIST_PARAMS[name]}{i + 1}" for i in range(a.shape[1])], a
    derived = derived_params(df)
    if name in derived.columns:
        return [name], derived[[name]].to_numpy(dtype=float)
    if name in df.columns:
        values = pd.to_numeric(df[name], errors="coerce")
        if values.notna().any():
            return [name], values.to_numpy(dtype=float)[:, None]
        raise DsdError(f"parameter {name!r} is not numeric")
    known = sorted({*LIST_PARAMS, *derived.columns})
    raise DsdError(f"unknown parameter {name!r} (known: {', '.join(known)})")
