"""Loading results tables for analysis, filtering them, and deriving the parameters the figures plot.

:func:`load_results` reads any number of results files (all validated before anything is
returned), merges them, and keeps the rows matching ``key=value`` filters (by default
``status=ok``). :func:`derived_params` turns the per-stage list columns into scalar columns:
``d`` (total depth), ``d1..d4``, ``w1..w4``, ``b1..``, ``g1..``, ``w_ratio1..3``
(``w_{i+1} / w_i``), the shared ``b`` and ``g`` (read from the drawn scalar columns
``bottleneck_ratio`` / ``group_width``, which exist only for spaces that share the parameter),
plus ``flops``, ``params``, ``acts`` and, for RegNet spaces, ``w0``, ``wa``, ``wm``.

The error metric is a column: ``top1_err`` (the final epoch's test error, dsd's default) or
``top1_err_min`` (the best epoch's, what pycls and the nds notebooks analyse); every loader and
table takes it as ``metric``. :func:`regime_range` reads the complexity range a population was
sampled in (the ``regime`` column) for normalised EDFs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from dsd.errors import DataError, DsdError
from dsd.io import is_list as _is_list
from dsd.io import lists_from_json, read_table
from dsd.schema import RECIPE_COLUMNS, RESULTS_REQUIRED

ERROR = "top1_err"
SHARED = {"bottleneck_ratio": "b", "group_width": "g"}
LIST_PARAMS = {
    "depths": "d",
    "widths": "w",
    "bottleneck_ratios": "b",
    "group_widths": "g",
}
SCALARS = ("flops", "params", "acts", "depth", "w0", "wa", "wm")


def _required(metric: str) -> tuple[str, ...]:
    """The columns every results file must have when analysed on ``metric``."""
    return (*RESULTS_REQUIRED, metric)


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
    text = column.astype(str)
    mask = text.isin(values)
    nums = [float(v) for v in values if _is_number(v)]
    if nums:
        numeric = pd.to_numeric(column, errors="coerce")
        mask |= numeric.isin(nums)
    return mask


def _is_number(text: str) -> bool:
    """True if ``text`` parses as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def apply_filters(df: pd.DataFrame, filters: Iterable[str] = ()) -> pd.DataFrame:
    """Keep rows matching every ``key=value`` filter; ``status=ok`` unless a status filter is given."""
    parsed = [parse_filter(f) for f in filters]
    if not any(k == "status" for k, _ in parsed):
        parsed.append(("status", ("ok",)))
    for key, values in parsed:
        if key not in df.columns:
            raise DsdError(f"filter {key}=...: no column {key!r} in the results")
        df = df[_matches(df[key], values)]
    return df.reset_index(drop=True)


def read_results(paths: Sequence[str | os.PathLike], metric: str = ERROR) -> pd.DataFrame:
    """Read and concatenate results files; raise DataError on the first unusable one.

    Each file needs ``model_id``, ``space``, ``status`` and a numeric ``metric`` column.
    """
    if not paths:
        raise DsdError("no results files given")
    frames = [read_table(p, required=_required(metric)) for p in paths]
    for p, f in zip(paths, frames, strict=True):
        if not pd.api.types.is_numeric_dtype(f[metric]) and len(f):
            raise DataError(f"{p}: column {metric} is not numeric")
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    _refuse_repeats(df, [str(p) for p, f in zip(paths, frames, strict=True) for _ in range(len(f))])
    return df


# Columns that define how a model was trained: one model trained two ways is two experiments.


def _refuse_repeats(df: pd.DataFrame, sources: list[str]) -> None:
    """Raise DataError if a model appears twice in one space (with the same training seed), or
    was trained with two recipes; the message names the files and one such model.

    A model may appear in two spaces (it was drawn from both), and once per training seed; a
    file given twice, or two runs of one model mixed, would count it twice in every EDF and test.
    """
    if not len(df):
        return
    src = pd.Series(sources, index=df.index)
    key = ["space", "model_id", *(["train_seed"] if "train_seed" in df.columns else [])]
    keys = df[key].astype(str)
    if "design_id" in df.columns:  # schema 3: a row is a design; two designs may build one model
        keys["model_id"] = df["design_id"].fillna(df["model_id"]).astype(str)
    dup = keys.duplicated(keep=False)
    if dup.any():
        first = keys[dup].iloc[0]
        rows = keys.index[(keys == first).all(axis=1)]
        files = " and ".join(dict.fromkeys(src[rows]))
        raise DataError(
            f"model {first['model_id']} of space {first['space']} appears {len(rows)} times "
            f"(in {files}; {int(dup.sum())} rows repeat a model); give each results file once "
            "and keep one row per model and training seed"
        )
    recipe = [c for c in RECIPE_COLUMNS if c in df.columns]
    if recipe:
        per_model = df[["space", "model_id", *recipe]].astype(str).drop_duplicates()
        mixed = per_model.duplicated(["space", "model_id"], keep=False)
        if mixed.any():
            row = per_model[mixed].iloc[0]
            raise DataError(
                f"model {row['model_id']} of space {row['space']} was trained with different "
                f"recipes (one of {', '.join(recipe)} differs) in {' and '.join(dict.fromkeys(sources))}; "
                "compare runs of one recipe, or select one with --filter"
            )


def load_results(
    results: pd.DataFrame | Sequence[str | os.PathLike] | str | os.PathLike,
    filters: Iterable[str] = (),
    metric: str = ERROR,
) -> pd.DataFrame:
    """A filtered results DataFrame from a DataFrame or results files, rows with a finite ``metric``.

    ``metric`` is the error column analysed: ``top1_err`` (final epoch, the default) or
    ``top1_err_min`` (best epoch, as pycls and nds), or any numeric column.
    """
    if not isinstance(metric, str) or not metric:
        raise DsdError(f"metric must be a column name, got {metric!r}")
    if isinstance(results, pd.DataFrame):
        missing = [c for c in _required(metric) if c not in results.columns]
        if missing:
            raise DataError(f"results are missing column(s) {', '.join(missing)}")
        df = lists_from_json(results)  # a frame read from CSV by hand (files: read_table does it)
    else:
        paths = [results] if isinstance(results, str | os.PathLike) else list(results)
        df = read_results(paths, metric)
    df = apply_filters(df, filters)
    errors = pd.to_numeric(df[metric], errors="coerce")
    return df[np.isfinite(errors)].reset_index(drop=True)


def regime_range(df: pd.DataFrame, column: str = "flops") -> tuple[float, float] | None:
    """The ``column`` range the rows were sampled in, from their ``regime`` column, or None.

    ``regime`` holds a JSON object per row (``{"flops": [360e6, 400e6]}``; ``"{}"`` when sampled
    without a range). Returns the range when every row names the same one for ``column``; None when
    the column is absent, a row has no range for ``column``, or the rows disagree.
    """
    if "regime" not in df.columns or df.empty:
        return None
    ranges = set()
    for text in df["regime"].unique():
        try:
            regime = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            return None
        value = regime.get(column) if isinstance(regime, dict) else None
        if not (isinstance(value, list | tuple) and len(value) == 2):
            return None
        lo, hi = float(value[0]), float(value[1])
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            return None
        ranges.add((lo, hi))
    return ranges.pop() if len(ranges) == 1 else None


def groups(df: pd.DataFrame, by: str = "space") -> dict[str, pd.DataFrame]:
    """Split ``df`` by the column ``by`` (in order of first appearance), names as strings."""
    if by not in df.columns:
        raise DsdError(f"--by {by}: no column {by!r} in the results")
    if df[by].map(_is_list).any():
        raise DsdError(
            f"--by {by}: a per-stage list column cannot name populations (use e.g. space)"
        )
    return {str(k): g.reset_index(drop=True) for k, g in df.groupby(by, sort=False)}


def _stack(column: pd.Series) -> np.ndarray:
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
    """Scalar parameters for scatter plots and bootstraps, one row per row of ``df``.

    ``d`` = total depth; ``d1..`` / ``w1..`` / ``b1..`` / ``g1..`` = per-stage depth, width,
    bottleneck ratio, group width as drawn; ``b`` and ``g`` = the shared value as drawn, read
    from the ``bottleneck_ratio`` / ``group_width`` columns, so they exist only where the space
    shares the parameter (AnyNetXB+ for ``b``, XC+ and RegNet for ``g``; NaN for rows of other
    spaces); ``w_ratio1..`` = ``w_{i+1} / w_i``; plus ``flops``, ``params``, ``acts`` and the
    RegNet parameters ``depth``, ``w0``, ``wa``, ``wm`` when present.
    """
    out = {}
    for column, short in LIST_PARAMS.items():
        if column not in df.columns:
            continue
        a = _stack(df[column])
        if column == "depths":
            out["d"] = np.nansum(a, axis=1) if a.size else np.full(len(df), np.nan)
        for i in range(a.shape[1]):
            out[f"{short}{i + 1}"] = a[:, i]
        if column == "widths":
            for i in range(a.shape[1] - 1):
                out[f"w_ratio{i + 1}"] = a[:, i + 1] / a[:, i]
    for column, short in SHARED.items():
        if column in df.columns:
            out[short] = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
    for column in SCALARS:
        if column in df.columns:
            out[column] = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
    return pd.DataFrame(out, index=df.index)


def param_values(df: pd.DataFrame, name: str) -> tuple[list[str], np.ndarray]:
    """Labels and a (models, k) array for a parameter: a list column, a derived name or a column.

    ``depths`` gives ``d1..d4`` (one column a stage); ``d``, ``w2``, ``w_ratio1``, ``flops`` ...
    give one column.
    """
    if name in LIST_PARAMS:
        if name not in df.columns:
            raise DsdError(f"parameter {name!r}: no column {name!r} in the results")
        a = _stack(df[name])
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
