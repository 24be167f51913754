"""Figures of the papers, drawn with matplotlib's object API (no pyplot, so no global state).

Each draws on the axes given as ``ax=`` (one Axes, or one a panel) or on a new Figure, and returns
the axes it drew on. Errors are fractions in the arguments and percent on the axes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter

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


def figure_of(drawn) -> Figure:
    """The figure of a Figure, an Axes or a sequence of Axes (what the plot functions return)."""
    if isinstance(drawn, Figure):
        return drawn
    return drawn.figure if hasattr(drawn, "figure") else np.ravel(drawn)[0].figure


def axes_for(ax, figsize: tuple[float, float], panels: int = 0):
    """``ax`` (checked), or new axes on a new figure: one Axes, or ``panels`` in a row."""
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        if not panels:
            return fig.add_subplot()
        return fig.subplots(1, panels, sharey=True, squeeze=False)[0]
    if panels:
        axes = np.ravel(np.asarray(ax, dtype=object))
        if axes.size != panels:
            raise DsdError(f"ax: this figure draws {panels} panel(s), got {axes.size} axes")
        return axes
    return ax


def _note(ax, text: str) -> None:
    """A small caption under the axes (e.g. the populations' ledger)."""
    if text:
        ax.annotate(
            text, (0, 0), xycoords="axes fraction", xytext=(0, -34), textcoords="offset points",
            va="top", fontsize="x-small", color="#555", annotation_clip=False, wrap=True,
        )  # fmt: skip


def save_figure(fig, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Write ``fig`` (a Figure, or axes drawn on one) atomically, in the format of the extension."""
    path = check_figure_path(path)
    fig = figure_of(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix[1:].lower(), dpi=dpi, bbox_inches="tight")
    return path


def edf_label(name: str, f: EDF) -> str:
    """Legend text ``name | n=.. | min=.. | mean=..`` (percent; a weighted EDF's ``n=500 (eff. 51)``)."""
    n = f"n={f.n}"
    if not np.allclose(f.weights, f.weights[0], rtol=1e-9, atol=0):
        n += f" (eff. {f.n_eff:.3g})"
    return f"{name} | {n} | min={100 * f.min:.1f} | mean={100 * f.mean:.1f}"


def _finite(values) -> np.ndarray:
    """The finite values, as floats."""
    v = np.asarray(values, dtype=float)
    return v[np.isfinite(v)]


def _is_integer(values: np.ndarray) -> bool:
    """True when every finite value is a whole number (depths, widths, b, g, d)."""
    v = _finite(values)
    return bool(v.size) and bool(np.all(v == np.round(v)))


def _log_axis(ax, integer: bool) -> None:
    """A log x axis with plain numbers: 8, 16, 32 ... for integers, else 0.1, 0.2, 0.5, 1 ..."""
    ax.set_xscale("log", base=2 if integer else 10)
    if not integer:
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _wants_log(values: np.ndarray) -> bool:
    """True when positive values span more than a factor of 20."""
    v = _finite(values)
    return bool(v.size) and v.min() > 0 and v.max() / v.min() > 20


def plot_edfs(
    populations: Mapping[str, EDF | Sequence[float]],
    *,
    bands: str | None = None,
    level: float = 0.95,
    title: str = "",
    xlabel: str = "error (%)",
    normalised: bool = False,
    seed: int = 0,
    note: str = "",
    ax=None,
):
    """Error EDFs of named populations (errors as fractions, or :class:`EDF` objects), DDS figures
    2-4; ``bands`` (``"dkw"`` or ``"bootstrap"``) shades a confidence band at ``level``."""
    if not populations:
        raise DsdError("plot_edfs: no populations to plot")
    ax = axes_for(ax, (6.4, 4.4))
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
    ax.set_ylabel("normalised cumulative prob." if normalised else "cumulative prob.")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(title or ("normalised error EDF" if normalised else "error EDF"))
    _note(ax, note)
    return ax


def plot_bootstrap(
    values: np.ndarray,
    errors: Sequence[float],
    result: BootstrapResult,
    labels: Sequence[str],
    *,
    title: str = "",
    color: str = COLORS[0],
    error_label: str = "error (%)",
    ax=None,
):
    """Error against each column of ``values`` with the bootstrap band of the best value shaded
    (DDS figures 5, 6); the panels share one x scale (log when any spans more than 20x)."""
    values = np.asarray(values, dtype=float).reshape(len(errors), -1)
    e = np.asarray(errors, dtype=float) * 100
    low, med, high = (np.atleast_1d(v) for v in (result.low, result.median, result.high))
    k = values.shape[1]
    log = any(_wants_log(values[:, j]) for j in range(k))
    axes = axes_for(ax, (3.0 * k + 0.6, 3.2), panels=k)
    for j, ax in enumerate(axes):
        ax.axvspan(low[j], high[j], color=color, alpha=0.15, lw=0, zorder=1)
        ax.scatter(values[:, j], e, s=14, color=color, alpha=0.8, lw=0.3, ec="white", zorder=3)
        ax.axvline(med[j], color="k", lw=1, ls="--", zorder=2)
        ax.set_xlabel(labels[j])
        ax.set_title(f"best {med[j]:.3g} [{low[j]:.3g}, {high[j]:.3g}]", fontsize="small")
        ax.grid(alpha=0.3)
        if log:
            _log_axis(ax, _is_integer(values))
        elif _is_integer(values[:, j]):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel(error_label)
    if title:
        axes[0].figure.suptitle(title)
    return axes


def fit_label(fit: RegNetFit, name: str) -> str:
    """Legend text of a fit: ``name`` (e.g. space and error), its parameters and where they lie."""
    where = "in RegNet space" if fit.in_space else f"outside: {', '.join(fit.outside_space)}"
    if fit.at_bound:
        where += f"; at search limit {', '.join(fit.at_bound)}"
    return f"{name}: w0={fit.w0} wa={fit.wa:.1f} wm={fit.wm:.2f} e_fit={fit.e_fit:.3f} ({where})"


def plot_fits(
    fits: Sequence[RegNetFit], names: Sequence[str] | None = None, *, title: str = "", ax=None
):
    """Per-block widths (solid) of models and their quantized linear fits (dashed), DDS figure 7."""
    if not fits:
        raise DsdError("plot_fits: no fits to plot")
    ax = axes_for(ax, (6.4, 4.4))
    for i, f in enumerate(fits):
        j = np.arange(f.d)
        name = names[i] if names else f"model {i + 1}"
        ax.step(j, f.observed, where="mid", color=_color(i), lw=1.6, alpha=0.8)
        ax.step(
            j, f.widths, where="mid", ls="--", color=_color(i), lw=1.2, label=fit_label(f, name)
        )
    ax.set_yscale("log", base=2)
    ax.set_xlabel("block index j")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("width (solid: model, dashed: fit)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="x-small", loc="upper left")
    ax.set_title(title or "per-block widths and quantized linear fits")
    return ax


def plot_complexity(
    populations: Mapping[str, Mapping[str, Sequence[float]]],
    metrics: Sequence[str] = ("flops", "params", "acts"),
    *,
    title: str = "",
    error_label: str = "error (%)",
    ax=None,
):
    """Error against complexity metrics (``populations[name]``: "error" and each metric to
    values); the panels share one x scale (log when any metric spans more than 20x)."""
    k = len(metrics)
    axes = axes_for(ax, (3.2 * k + 0.6, 3.4), panels=k)
    xs: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for i, (name, pop) in enumerate(populations.items()):
        e = np.asarray(pop["error"], dtype=float) * 100
        for ax, m in zip(axes, metrics, strict=True):
            x = np.asarray(pop[m], dtype=float) / 1e6
            xs[m].append(x)
            label = name if ax is axes[0] else None
            ax.scatter(x, e, s=14, color=_color(i), alpha=0.75, lw=0.3, ec="white", zorder=3, label=label)  # fmt: skip
    x_all = {m: np.concatenate(v) if v else np.array([]) for m, v in xs.items()}
    log = any(_wants_log(x) for x in x_all.values())
    for ax, m in zip(axes, metrics, strict=True):
        ax.set_xlabel(f"{m} (M)")
        ax.grid(alpha=0.3, which="both")
        x = x_all[m]
        if log and np.any(np.isfinite(x) & (x > 0)):  # a panel without positive values stays linear
            _log_axis(ax, integer=False)
    axes[0].set_ylabel(error_label)
    axes[0].legend(fontsize="small", markerscale=2)
    if title:
        axes[0].figure.suptitle(title)
    return axes


def plot_random_search(
    results: Mapping[str, RandomSearchResult],
    *,
    title: str = "",
    error_label: str = "best error (%)",
    ax=None,
):
    """Expected best error of k random models against k (NDS), with its band shaded."""
    ax = axes_for(ax, (6.4, 4.0))
    for i, (name, r) in enumerate(results.items()):
        label = f"{name} | n={r.n}" + (f" (eff. {r.n_eff:.3g})" if r.n_eff < r.n - 1e-9 else "")
        ax.plot(r.k, r.mean * 100, color=_color(i), lw=1.8, label=label)
        ax.fill_between(r.k, r.low * 100, r.high * 100, color=_color(i), alpha=0.18, lw=0)
    _log_axis(ax, integer=True)  # k = 1, 2, 4, 8 ...
    ax.set_xlabel("models tried (k)")
    ax.set_ylabel(error_label)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    ax.set_title(title or "random search efficiency (k draws with replacement)")
    return ax
