"""What ``dsd edf``, ``dsd bootstrap``, ``dsd fit`` and ``dsd compare`` do, one function each.

Each checks its outputs first (none may be an input), loads the populations once, writes what was
asked for, and returns the text for stdout and the notes (ledgers, files written) for stderr.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from dsd.analysis import figures, tables
from dsd.analysis.compare import compare, parse_pair
from dsd.analysis.fit import UNBOUNDED
from dsd.analysis.population import AnalysisOptions, Populations, load_populations
from dsd.errors import DsdError
from dsd.io import check_not_an_input, check_output_path, write_table

Paths = Sequence[str | os.PathLike]


@dataclass(frozen=True)
class Output:
    """What a command prints: ``text`` on stdout, ``notes`` (one a line) on stderr."""

    text: str
    notes: tuple[str, ...] = ()


def _frame(df) -> str:
    """A DataFrame as a plain text table."""
    return df.to_string(index=False, float_format=lambda v: f"{v:.4g}")


def _figure_path(output, paths: Paths) -> Path | None:
    """A figure output checked before any work: its kind, its folder, and not an input."""
    return check_not_an_input(figures.check_figure_path(output), paths) if output else None


def _notes(pops: Populations, *written: Path | None) -> tuple[str, ...]:
    """The ledger lines and the files written."""
    return (*pops.ledger_lines(), *(f"wrote {p}" for p in written if p is not None))


def _ks_text(pops: Populations, normalised: bool) -> list[str]:
    """The KS matrix as text: D above the diagonal, p below."""
    if len(pops) < 2:
        return []
    d, p = tables.ks_matrix(pops.edfs(normalised))
    d = d.where(np.triu(np.ones(d.shape, dtype=bool)), p)
    kind = "normalised" if normalised else "plain"
    head = f"\nKS between {kind} EDFs: statistic D (upper triangle) and p-value (lower):"
    return [head, d.to_string(float_format=lambda v: f"{v:.3g}")]


def edf_command(paths: Paths, options: AnalysisOptions, output=None, bands: bool = False) -> Output:
    """``dsd edf``: each population's summary, the KS matrix of their (normalised) EDFs, the figure."""
    out = _figure_path(output, paths)
    pops = load_populations(paths, options)
    normalised = options.normalise is not None
    lines = [f"error: {tables.metric_label(options.metric)}"]
    if normalised:
        lines.append(f"normalised EDFs: {pops.normalisation.note}")
    summary = tables.summary_table(pops, normalised)
    summary["edf_mean%"] = [100 * f.mean for f in pops.edfs(normalised).values()]
    lines += [_frame(summary), *_ks_text(pops, normalised)]
    if out:
        ax = figures.plot_edfs(
            pops.edfs(normalised),
            bands="bootstrap" if bands else None,
            normalised=normalised,
            xlabel=tables.metric_label(options.metric),
            note="; ".join(pops.ledger_lines()),
        )
        figures.save_figure(ax, out)
    return Output("\n".join(lines), _notes(pops, out))


def bootstrap_command(paths: Paths, options: AnalysisOptions, output=None, table=None) -> Output:
    """``dsd bootstrap``: the likely range of the best value of each parameter in each population."""
    out = _figure_path(output, paths)
    table_out = check_not_an_input(check_output_path(table), paths) if table else None
    pops = load_populations(paths, options)
    result, details = tables.bootstrap_table(pops)
    label = tables.metric_label(options.metric)
    text = f"best value of each parameter by {label}\n{_frame(result)}"
    notes = []
    if out:
        (name, param), (labels, values, r) = next(iter(details.items()))
        if len(details) > 1:
            notes.append(f"the figure shows {name}: {param} (the first population and parameter)")
        axes = figures.plot_bootstrap(
            values, pops[name].errors, r, labels, title=f"{name}: {param}", error_label=label
        )
        figures.save_figure(axes, out)
    if table_out:
        write_table(result, table_out)
    return Output(text, (*notes, *_notes(pops, out, table_out)))


def fit_command(paths: Paths, options: AnalysisOptions, output=None, plot: int = 5) -> Output:
    """``dsd fit``: fits of each population's best models; the figure, one panel a population."""
    out = _figure_path(output, paths)
    if plot < 1:
        raise DsdError(f"--plot must be >= 1, got {plot}")
    pops = load_populations(paths, options)
    table, each = tables.fit_tables(pops)
    each_by = f" of each {options.by}" if len(pops) > 1 else ""
    head = f"best {options.top} models{each_by} by {tables.metric_label(options.metric)}"
    if options.fit_domain is UNBOUNDED:
        head += "; unbounded fits (w0, wa, wm not limited to the RegNet space)"
    if out:
        fig = Figure(figsize=(6.4 * len(each), 4.4), layout="constrained")
        panels = fig.subplots(1, len(each), squeeze=False)[0]
        for ax, (name, (part, fits)) in zip(panels, each.items(), strict=True):
            names = tables.fit_names(part, options.metric)[:plot]
            title = f"{name}: best models and their fits"
            figures.plot_fits(fits[:plot], names, title=title, ax=ax)
        figures.save_figure(fig, out)
    return Output(f"{head}\n{_frame(table)}", (*table.attrs["notes"], *_notes(pops, out)))


def compare_command(paths: Paths, options: AnalysisOptions, pairs: Sequence[str] = ()) -> Output:
    """``dsd compare``: the KS verdict of each pair (default: every pair) in one sentence."""
    parsed = [parse_pair(t) for t in pairs]
    pops = load_populations(paths, options)
    names = list(pops)
    if not parsed:
        parsed = [(a, b, None) for a, b in combinations(names, 2)]
    for a, b, _ in parsed:
        for name in (a, b):
            if name not in pops:
                raise DsdError(f"no population {name!r} in the results (have {', '.join(names)})")
    if not parsed:
        raise DsdError("only one population in the results: nothing to compare")
    lines = []
    for a, b, expect in parsed:
        c = compare(a, pops[a].errors, b, pops[b].errors, alpha=options.alpha, expect=expect)
        lines.append(f"{a} vs {b}: {c.sentence()}")
    return Output("\n".join(lines), _notes(pops))
