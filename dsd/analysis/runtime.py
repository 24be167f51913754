"""Runtime against complexity, and the paper's comparison of named models (DDS §5).

The paper's claim: activations predict GPU runtime better than flops.
"""

from __future__ import annotations

import functools
import html
import os
from collections.abc import Sequence
from importlib import resources

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter
from scipy import stats

from dsd.analysis.figures import axes_for
from dsd.analysis.page import figure_html, note, section, table_html
from dsd.errors import DsdError
from dsd.io import distinct_inputs, read_table

#: Time columns written by ``dsd time`` (per image, milliseconds).
TIME_COLUMNS = ("infer_ms_per_image", "train_ms_per_image")
#: Each EfficientNet and the largest RegNetY with no more published flops (the paper's pairs).
MATCHED_PAIRS = (
    ("EfficientNet-B0", "RegNetY-400MF"),
    ("EfficientNet-B1", "RegNetY-600MF"),
    ("EfficientNet-B2", "RegNetY-800MF"),
    ("EfficientNet-B3", "RegNetY-1.6GF"),
    ("EfficientNet-B4", "RegNetY-4.0GF"),
    ("EfficientNet-B5", "RegNetY-8.0GF"),
)


def published_figures() -> pd.DataFrame:
    """The published ImageNet figures (``dsd/analysis/published.csv``, whose header gives units and
    source), one row per model, with ``infer_ms_per_image`` (batches differ between rows)."""
    return _published().copy()


@functools.cache
def _published() -> pd.DataFrame:
    """The packaged CSV, read once per process (callers get copies)."""
    text = resources.files("dsd.analysis").joinpath("published.csv")
    with text.open("r", encoding="utf-8") as f:
        df = pd.read_csv(f, comment="#")
    df["infer_ms_per_image"] = df["infer_ms"] / df["batch"]
    return df


def read_timings(
    paths: Sequence[str | os.PathLike], time: str = "infer_ms_per_image"
) -> pd.DataFrame:
    """The timing tables at ``paths`` (each given once), concatenated."""
    frames = [read_table(p, required=("model_id", time)) for p in distinct_inputs(paths)]
    return pd.concat(frames, ignore_index=True)


def runtime_correlations(
    df: pd.DataFrame, time: str = "infer_ms_per_image", metrics=("flops", "acts", "params")
) -> pd.DataFrame:
    """Pearson r and Spearman rho of ``time`` against each complexity metric, best first (NaN
    below 3 models with both values; ``n`` says how many)."""
    if time not in df.columns:
        raise DsdError(f"no column {time!r}: time the models first (dsd time ... -o times.csv)")
    rows = []
    for m in metrics:
        if m not in df.columns:
            continue
        sub = df[[m, time]].apply(pd.to_numeric, errors="coerce").dropna()
        enough = len(sub) >= 3 and sub[m].nunique() > 1 and sub[time].nunique() > 1
        r = float(stats.pearsonr(sub[m], sub[time])[0]) if enough else float("nan")
        rho = float(stats.spearmanr(sub[m], sub[time])[0]) if enough else float("nan")
        rows.append({"metric": m, "pearson_r": r, "spearman_rho": rho, "n": len(sub)})
    if not rows:
        raise DsdError(f"none of {', '.join(metrics)} is a column of the timed table")
    return pd.DataFrame(rows).sort_values("pearson_r", ascending=False, ignore_index=True)


def _measured_by_model(times: pd.DataFrame) -> pd.DataFrame:
    """The median times of each named model."""
    if "model" not in times.columns:
        raise DsdError(
            "the timing table has no 'model' column: time models by name (dsd time NAME)"
        )
    cols = [c for c in TIME_COLUMNS if c in times.columns]
    return times.dropna(subset=["model"]).groupby("model", sort=False)[cols].median()


def compare_models(times: pd.DataFrame) -> pd.DataFrame:
    """Published figures (``v100_...``) beside the times measured here, for the named models."""
    pub = published_figures().rename(
        columns={"infer_ms_per_image": "v100_infer_ms_per_image", "train_hr": "v100_train_hr"}
    )
    mine = _measured_by_model(times)
    out = pub.merge(mine, left_on="model", right_index=True, how="inner")
    cols = ["model", "flops_b", "acts_m", "top1_err", "v100_infer_ms_per_image", "v100_train_hr"]
    return out[cols + list(mine.columns)].reset_index(drop=True)


def effnet_ratios(times: pd.DataFrame | None = None) -> pd.DataFrame:
    """EfficientNet-Bk / RegNetY time ratios at matched flops, published (V100) and measured."""
    pub = published_figures().set_index("model")
    mine = _measured_by_model(times) if times is not None else pd.DataFrame()
    rows = []
    for eff, reg in MATCHED_PAIRS:
        row = {
            "efficientnet": eff,
            "regnety": reg,
            "flops_b": f"{pub.at[eff, 'flops_b']:g} / {pub.at[reg, 'flops_b']:g}",
            "top1_err": f"{pub.at[eff, 'top1_err']:g} / {pub.at[reg, 'top1_err']:g}",
            "v100_infer_ratio": pub.at[eff, "infer_ms_per_image"]
            / pub.at[reg, "infer_ms_per_image"],
            "v100_train_ratio": pub.at[eff, "train_hr"] / pub.at[reg, "train_hr"],
        }
        for col, key in (("infer_ms_per_image", "infer"), ("train_ms_per_image", "train")):
            both = eff in mine.index and reg in mine.index and col in mine.columns
            row[f"measured_{key}_ratio"] = (
                mine.at[eff, col] / mine.at[reg, col] if both else float("nan")
            )
        rows.append(row)
    return pd.DataFrame(rows)


def plot_runtime(df: pd.DataFrame, time: str = "infer_ms_per_image", *, ax=None):
    """Panels of ``time`` against flops and against acts (those present), titled with Pearson r."""
    corr = runtime_correlations(df, time, metrics=("flops", "acts")).set_index("metric")
    metrics = [m for m in ("flops", "acts") if m in corr.index]
    labels = {"flops": "flops (M)", "acts": "activations (M)"}
    axes = axes_for(ax, (4.5 * len(metrics), 3.6), len(metrics))
    for ax_, m in zip(axes, metrics, strict=True):
        ax_.scatter(df[m] / 1e6, df[time], s=12, alpha=0.7)
        if "model" in df.columns:
            for _, r in df.dropna(subset=["model"]).iterrows():
                ax_.annotate(str(r["model"]), (r[m] / 1e6, r[time]), fontsize=6, alpha=0.8)
        ax_.set_xlabel(labels[m])
        ax_.set_title(f"r = {corr.at[m, 'pearson_r']:.3f} (n = {corr.at[m, 'n']})")
        ax_.grid(alpha=0.3)
    axes[0].set_ylabel(time.replace("_", " "))
    return axes


def plot_comparison(times: pd.DataFrame, time: str = "infer_ms_per_image", *, ax=None):
    """Published top-1 error of the named models against published flops and measured ``time``."""
    cmp = compare_models(times)
    if cmp.empty:
        raise DsdError("no timed model has published figures (time them by name: dsd time NAME)")
    axes = axes_for(ax, (9, 3.8), 2)
    family = cmp["model"].str.extract(r"^(RegNetX|RegNetY|ResNeXt|ResNet|EfficientNet)")[0]
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    for ax_, x, label in zip(
        axes, ("flops_b", time), ("published flops (B)", f"{time.replace('_', ' ')} (here)")
    ):
        for fam, sub in cmp.groupby(family, sort=True):
            ax_.plot(sub[x], sub["top1_err"], "o-", ms=4, label=fam)
            for _, r in sub.iterrows():
                ax_.annotate(r["model"].split("-", 1)[1], (r[x], r["top1_err"]), fontsize=6)
        ax_.set_xscale("log")
        ax_.xaxis.set_major_formatter(plain)
        ax_.xaxis.set_minor_formatter(plain)
        ax_.tick_params(axis="x", which="minor", labelsize=6)
        ax_.set_xlabel(label)
        ax_.grid(alpha=0.3)
    axes[0].set_ylabel("published top-1 error (%)")
    axes[0].legend(fontsize=7)
    return axes


def report_sections(df: pd.DataFrame, figure=None) -> list[str]:
    """The report's runtime section for a table with timing columns ([] without them);
    ``figure(name, axes, alt)`` inlines a figure (default :func:`~dsd.analysis.page.figure_html`)."""
    timed = "infer_ms_per_image" in df.columns and bool(
        np.isfinite(pd.to_numeric(df["infer_ms_per_image"], errors="coerce")).any()
    )
    if not timed or not {"flops", "acts"} & set(df.columns):
        return []
    parts = []
    for t in TIME_COLUMNS:
        if t in df.columns and pd.to_numeric(df[t], errors="coerce").notna().sum() >= 3:
            parts.append(f"<h3>{html.escape(t)}</h3>")
            parts.append(table_html(runtime_correlations(df, t), "{:.3f}"))
    axes, alt = plot_runtime(df), "runtime against flops and activations"
    parts.append(figure("runtime", axes, alt) if figure else figure_html(axes[0].figure, alt))
    if "model" in df.columns and not (cmp := compare_models(df)).empty:
        named = [("Named models: published figures and times measured here", cmp, "{:.3f}")]
        ratios = effnet_ratios(df).dropna(subset=["measured_infer_ratio"])
        if not ratios.empty:
            named.append(("EfficientNet / RegNetY time ratios at matched flops", ratios, "{:.2f}"))
        for title, table, fmt in named:
            parts += [f"<h3>{html.escape(title)}</h3>", table_html(table, fmt)]
    devices = sorted({str(d) for d in df.get("time_device", pd.Series(dtype=str)).dropna()})
    claim = "The paper's claim: activations predict GPU runtime better than flops."
    parts.append(note(f"Measured on {', '.join(devices) or 'an unknown device'}. {claim}"))
    return [section("Runtime against complexity", *parts)]


def runtime_text(df: pd.DataFrame, time: str = "infer_ms_per_image") -> str:
    """What ``dsd runtime`` prints: correlations, named models, EfficientNet / RegNetY ratios."""
    fmt3, fmt2 = (lambda x: f"{x:.3f}"), (lambda x: f"{x:.2f}")
    corr = runtime_correlations(df, time).to_string(index=False, float_format=fmt3)
    lines = [f"{time} against complexity ({len(df)} timed rows):", corr]
    if len(df) < 3:
        lines.append("(correlations need at least 3 timed models)")
    if "model" in df.columns and df["model"].notna().any():
        cmp = compare_models(df)
        if not cmp.empty:
            head = "published ImageNet figures (V100) and times measured here (ms per image):"
            lines += ["", head, cmp.to_string(index=False, float_format=fmt3)]
        head = (
            "EfficientNet / RegNetY time ratios at matched flops (published V100, measured here):"
        )
        lines += ["", head, effnet_ratios(df).to_string(index=False, float_format=fmt2)]
    return "\n".join(lines)
