"""Figures of the papers, drawn with matplotlib's object API (no pyplot, so no global state).

Every function returns a :class:`matplotlib.figure.Figure`; it never shows it. In a notebook the
figure displays itself; :func:`save_figure` writes it atomically in the format of the path's
extension (.png, .pdf, .svg).

- :func:`plot_edfs`: error EDFs (or normalised EDFs) of several populations, ``name | n | min | mean``
  in the legend, optional confidence bands (DDS figures 2-4);
- :func:`plot_bootstrap`: error against a parameter with the bootstrap band shaded (figures 5, 6);
- :func:`plot_fits`: per-block widths of the top models and their quantized linear fits (figure 7);
- :func:`plot_complexity`: error against flops, params and acts;
- :func:`plot_random_search`: expected best error of k random models (NDS).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from dsd.analysis.fit import RegNetFit
from dsd.analysis.stats import EDF, BootstrapResult, RandomSearchResult, edf
from dsd.errors import DsdError
from dsd.io import atomic_path, check_output_path

FIGURE_SUFFIXES = (".png", ".pdf", ".svg")
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _color(i: int) -> str:
    """The i-th colour of the palette (cycled)."""
    return COLORS[i % len(COLORS)]


def check_figure_path(path: str | os.PathLike) -> Path:
    """Validate a figure output path before any work is done."""
    return check_output_path(path, FIGURE_SUFFIXES)


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Write ``fig`` atomically; the format follows the extension."""
    path = check_figure_path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix[1:].lower(), dpi=dpi, bbox_inches="tight")
    return path


def edf_label(name: str, f: EDF) -> str:
    """Legend text ``name | n=.. | min=.. | mean=..`` (errors in percent)."""
    return f"{name} | n={f.n} | min={100 * f.min:.1f} | mean={100 * f.mean:.1f}"


def plot_edfs(
    populations: Mapping[str, EDF | Sequence[float]],
    *,
    bands: str | None = None,
    level: float = 0.95,
    title: str = "",
    xlabel: str = "error (%)",
    normalized: bool = False,
    seed: int = 0,
) -> Figure:
    """Error EDFs of named populations (arrays of errors or :class:`EDF` objects).

    ``bands`` = ``"dkw"`` or ``"bootstrap"`` shades a confidence band at ``level``.
    """
    if not populations:
        raise DsdError("plot_edfs: no populations to plot")
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.add_subplot()
    for i, (name, pop) in enumerate(populations.items()):
        f = pop if isinstance(pop, EDF) else edf(pop)
        x, y = f.steps()
        xs = np.concatenate(([x[0]], x)) * 100
        ys = np.concatenate(([0.0], y))
        ax.step(xs, ys, where="post", color=_color(i), lw=1.8, label=edf_label(name, f))
        if bands:
            band = f.confidence_band(level, bands, seed=seed)
            ax.fill_between(
                band.x * 100, band.lower, band.upper, step="post", color=_color(i), alpha=0.18, lw=0
            )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("normalised cumulative prob." if normalized else "cumulative prob.")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(title or ("normalised error EDF" if normalized else "error EDF"))
    return fig


def plot_bootstrap(
    values: np.ndarray,
    errors: Sequence[float],
    result: BootstrapResult,
    labels: Sequence[str],
    *,
    title: str = "",
    color: str = COLORS[0],
) -> Figure:
    """Error against each column of ``values`` with the bootstrap band of the best value shaded."""
    values = np.asarray(values, dtype=float).reshape(len(errors), -1)
    e = np.asarray(errors, dtype=float) * 100
    low, med, high = (np.atleast_1d(v) for v in (result.low, result.median, result.high))
    k = values.shape[1]
    fig = Figure(figsize=(3.0 * k + 0.6, 3.2), layout="constrained")
    axes = fig.subplots(1, k, sharey=True, squeeze=False)[0]
    for j, ax in enumerate(axes):
        ax.axvspan(low[j], high[j], color=color, alpha=0.2, lw=0)
        ax.scatter(values[:, j], e, s=6, color=color, alpha=0.45, lw=0)
        ax.axvline(med[j], color="k", lw=1, ls="--")
        ax.set_xlabel(labels[j])
        ax.set_title(f"best {med[j]:.3g} [{low[j]:.3g}, {high[j]:.3g}]", fontsize="small")
        ax.grid(alpha=0.3)
        if np.nanmin(values[:, j]) > 0 and np.nanmax(values[:, j]) / np.nanmin(values[:, j]) > 20:
            ax.set_xscale("log")
    axes[0].set_ylabel("error (%)")
    if title:
        fig.suptitle(title)
    return fig


def plot_fits(
    fits: Sequence[RegNetFit], names: Sequence[str] | None = None, *, title: str = ""
) -> Figure:
    """Per-block widths (solid) of models and their fitted quantized linear widths (dashed)."""
    if not fits:
        raise DsdError("plot_fits: no fits to plot")
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.add_subplot()
    for i, f in enumerate(fits):
        j = np.arange(f.d)
        name = names[i] if names else f"model {i + 1}"
        ax.step(j, f.observed, where="mid", color=_color(i), lw=1.6, alpha=0.8)
        ax.step(
            j,
            f.widths,
            where="mid",
            ls="--",
            color=_color(i),
            lw=1.2,
            label=f"{name}: w0={f.w0} wa={f.wa:.1f} wm={f.wm:.2f} e_fit={f.e_fit:.3f}",
        )
    ax.set_yscale("log", base=2)
    ax.set_xlabel("block index j")
    ax.set_ylabel("width (solid: model, dashed: fit)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="x-small", loc="upper left")
    ax.set_title(title or "per-block widths and quantized linear fits")
    return fig


def plot_complexity(
    populations: Mapping[str, Mapping[str, Sequence[float]]],
    metrics: Sequence[str] = ("flops", "params", "acts"),
    *,
    title: str = "",
) -> Figure:
    """Error against complexity metrics; ``populations[name]`` maps "error" and each metric to values."""
    k = len(metrics)
    fig = Figure(figsize=(3.2 * k + 0.6, 3.4), layout="constrained")
    axes = fig.subplots(1, k, sharey=True, squeeze=False)[0]
    for i, (name, pop) in enumerate(populations.items()):
        e = np.asarray(pop["error"], dtype=float) * 100
        for ax, m in zip(axes, metrics, strict=True):
            scale = 1e6
            ax.scatter(
                np.asarray(pop[m], dtype=float) / scale,
                e,
                s=6,
                color=_color(i),
                alpha=0.5,
                lw=0,
                label=name if ax is axes[0] else None,
            )
    for ax, m in zip(axes, metrics, strict=True):
        ax.set_xlabel(f"{m} (M)")
        ax.grid(alpha=0.3, which="both")
        lo, hi = ax.dataLim.x0, ax.dataLim.x1
        if lo > 0 and hi / lo > 20:
            ax.set_xscale("log")
    axes[0].set_ylabel("error (%)")
    axes[0].legend(fontsize="small", markerscale=2)
    if title:
        fig.suptitle(title)
    return fig


def plot_random_search(results: Mapping[str, RandomSearchResult], *, title: str = "") -> Figure:
    """Expected best error of k random models against k, with the quantile band shaded."""
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for i, (name, r) in enumerate(results.items()):
        ax.plot(r.k, r.mean * 100, color=_color(i), lw=1.8, label=name)
        ax.fill_between(r.k, r.low * 100, r.high * 100, color=_color(i), alpha=0.18, lw=0)
    ax.set_xscale("log")
    ax.set_xlabel("models tried (k)")
    ax.set_ylabel("best error (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    ax.set_title(title or "random search efficiency")
    return fig
