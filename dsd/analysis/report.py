"""The self-contained HTML report of one or more results sets: one page, images inline, no links.

Sections: a header with provenance (dsd version, input files, dataset, epochs, error metric),
summary, error EDFs (plain and normalised by flops over the sampling regime), KS matrices between
populations (plain and normalised, each labelled), random-search efficiency, error against
complexity, bootstrap tables and scatters, quantized linear fits of the best models, and the best
models. Errors are in percent throughout. :func:`write_report` is what ``dsd report`` and
``dsd run`` call.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from dsd._version import __version__
from dsd.analysis import figures, tables
from dsd.analysis.data import ERROR, derived_params, groups, load_results
from dsd.analysis.runtime import report_sections as runtime_sections
from dsd.analysis.stats import random_search_efficiency
from dsd.errors import DsdError
from dsd.io import atomic_path, check_output_path
from dsd.schema import BEST_COLUMNS

REPORT_SUFFIXES = (".html", ".htm")
DEFAULT_PARAMS = ("d", "depths", "widths", "b", "g", "w0", "wa", "wm")

CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}
img{max-width:100%;height:auto}.note{color:#666;font-size:.9em}
"""


def check_report_path(path: str | os.PathLike) -> Path:
    """Validate the report's output path before any work is done."""
    return check_output_path(path, REPORT_SUFFIXES)


def figure_html(fig: Figure, alt: str) -> str:
    """An ``<img>`` tag holding ``fig`` as an inline base64 PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def table_html(df: pd.DataFrame, floatfmt: str = "{:.4g}") -> str:
    """A DataFrame as an escaped HTML table."""
    return df.to_html(index=False, escape=True, float_format=floatfmt.format, border=0)


def _section(title: str, *parts: str) -> str:
    """An ``<h2>`` section."""
    return f"<h2>{html.escape(title)}</h2>\n" + "\n".join(parts)


def _note(text: str) -> str:
    """A short explanatory paragraph."""
    return f'<p class="note">{html.escape(text)}</p>'


def _available_params(df: pd.DataFrame, params: Iterable[str]) -> list[str]:
    """The parameters with at least two distinct finite values in ``df``."""
    derived = derived_params(df)
    out = []
    for p in params:
        if p in ("depths", "widths", "bottleneck_ratios", "group_widths"):
            ok = p in df.columns
        else:
            ok = p in derived.columns and derived[p].dropna().nunique() > 1
        if ok:
            out.append(p)
    return out


def _ks_section(edfs, kind: str, metric: str) -> str:
    """The KS matrix of ``edfs`` (``kind``: "plain" or "normalised"), D and p side by side."""
    d, p = tables.ks_matrix(edfs)
    d.insert(0, "D", d.index)
    p.insert(0, "p", p.index)
    return _section(
        f"KS statistic between populations ({kind} EDFs)",
        _note(
            f"D = sup |F1 - F2| of the {kind} EDFs of {metric}, and its p-value"
            + (
                " (asymptotic, with Kish effective sizes in place of n)."
                if kind == "normalised"
                else " (scipy's ks_2samp)."
            )
        ),
        table_html(d, "{:.3f}"),
        table_html(p, "{:.3g}"),
    )


def _edf_sections(pops, bins: int, seed: int, metric: str = ERROR):
    """EDF figures (plain and, when possible, normalised by flops) and the KS matrices.

    Returns the sections and the normalised EDFs (None when they could not be drawn).
    """
    label = tables.metric_label(metric)
    edfs = tables.population_edfs(pops, metric=metric)
    fig = figures.plot_edfs(edfs, bands="dkw", seed=seed, xlabel=label)
    parts = [figure_html(fig, "error EDFs")]
    parts.append(
        _note("Shaded: 95% DKW confidence bands. F(e) = fraction of models with error < e.")
    )
    out = [_section("Error EDFs", *parts)]
    nedfs = None
    try:
        norm = tables.normalisation(pops, "flops", bins)
        nedfs = tables.normalised_edfs(pops, norm, metric)
    except DsdError as e:
        out.append(_section("Normalised EDFs (flops)", _note(f"not drawn: {e}")))
    else:
        fig = figures.plot_edfs(nedfs, normalized=True, xlabel=label)
        out.append(
            _section(
                "Normalised EDFs (flops)",
                figure_html(fig, "normalised EDFs"),
                _note(norm.note + " Legend: n models, eff. = Kish effective sample size."),
                table_html(tables.summary_table(pops, metric, nedfs)),
            )
        )
    if len(edfs) > 1:
        out.append(_ks_section(edfs, "plain", metric))
        if nedfs is not None:
            out.append(_ks_section(nedfs, "normalised", metric))
    return out, nedfs


def _provenance(df: pd.DataFrame, sources: Sequence[str], metric: str) -> str:
    """The header's provenance table: dsd version, inputs, dataset, epochs, metric."""

    def values(column: str) -> str:
        if column not in df.columns:
            return "(not recorded)"
        return ", ".join(str(v) for v in pd.unique(df[column].dropna().astype(str))) or "-"

    rows = [
        ("report written by", f"dsd {__version__}"),
        ("results written by", values("dsd_version")),
        ("input files", ", ".join(str(s) for s in sources) or "(a DataFrame)"),
        ("dataset", values("dataset")),
        ("epochs", values("epochs")),
        ("error metric", tables.metric_label(metric)),
    ]
    return table_html(pd.DataFrame(rows, columns=["", "value"]))


def build_report(
    df: pd.DataFrame,
    *,
    by: str = "space",
    params: Sequence[str] = DEFAULT_PARAMS,
    top: int = 10,
    bins: int = 10,
    reps: int = 10_000,
    seed: int = 0,
    title: str = "dsd report",
    metric: str = ERROR,
    sources: Sequence[str | os.PathLike] = (),
    refine: str | os.PathLike | None = None,
) -> str:
    """The report's HTML for an already loaded and filtered results DataFrame.

    ``metric`` is the error column analysed; ``sources`` (the input files) go in the header;
    ``refine`` names a space whose refinement section (:mod:`dsd.analysis.refinement`) is added.
    """
    if df.empty:
        raise DsdError("no results left to report (all filtered out or no ok rows)")
    if metric not in df.columns:
        raise DsdError(f"metric {metric!r}: no such column in the results")
    pops = groups(df, by)
    label = tables.metric_label(metric)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<h1>{html.escape(title)}</h1>",
        _note(f"{len(df)} models in {len(pops)} population(s) grouped by {by}; generated {now}."),
        _provenance(df, [str(s) for s in sources], metric),
        _section(
            "Summary", _note(f"Errors: {label}."), table_html(tables.summary_table(pops, metric))
        ),
    ]
    edf_parts, nedfs = _edf_sections(pops, bins, seed, metric)
    body += edf_parts
    if nedfs is not None:
        rs = {name: random_search_efficiency(f.x, weights=f.weights) for name, f in nedfs.items()}
        how = "from the flops-normalised weights of the normalised EDFs"
    else:
        rs = {name: random_search_efficiency(p[metric]) for name, p in pops.items()}
        how = "uniformly"
    body.append(
        _section(
            "Random search efficiency",
            figure_html(
                figures.plot_random_search(rs, error_label=f"best {metric} (%)"), "random search"
            ),
            _note(
                f"Best error of k models drawn with replacement {how} (NDS): mean (line) and mean "
                "-+ 2 standard deviations of that minimum (band, as the NDS notebook draws it)."
            ),
        )
    )
    metrics = [m for m in ("flops", "params", "acts") if m in df.columns]
    if metrics:
        data = {
            name: {"error": p[metric], **{m: p[m] for m in metrics}} for name, p in pops.items()
        }
        fig = figures.plot_complexity(data, metrics, error_label=label)
        body.append(_section("Error against complexity", figure_html(fig, "complexity")))
    body += runtime_sections(df)
    body += _bootstrap_sections(pops, params, reps, seed, metric)
    body += _fit_sections(df, top, metric)
    if refine is not None:
        from dsd.analysis.refinement import refinement_sections

        body += refinement_sections(df, refine, seed=seed)
    best = tables.top_models(df, top, metric)
    best = best[[c for c in _best_columns(metric) if c in best.columns]]
    if metric in best.columns:
        best[metric] = best[metric].astype(float) * 100
        best = best.rename(columns={metric: f"{metric}%"})
    body.append(_section(f"Best {len(best)} models", table_html(best.astype(object))))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _best_columns(metric: str) -> tuple[str, ...]:
    """The best-models table's columns for ``metric`` (the design as drawn, and as built)."""
    return tuple(metric if c == ERROR else c for c in BEST_COLUMNS)


def _bootstrap_sections(pops, params, reps: int, seed: int, metric: str = ERROR) -> list[str]:
    """Bootstrap table and scatter figures for the parameters present in each population."""
    out = []
    label = tables.metric_label(metric)
    for name, p in pops.items():
        avail = _available_params(p, params)
        if not avail or len(p) < 2:
            continue
        table, details = tables.bootstrap_table(
            {name: p}, avail, reps=reps, seed=seed, metric=metric
        )
        imgs = [
            figure_html(
                figures.plot_bootstrap(
                    v, p[metric], r, labels, title=f"{name}: {param}", error_label=label
                ),
                param,
            )
            for (_, param), (labels, v, r) in details.items()
        ]
        out.append(
            _section(
                f"Bootstrap of the best parameters: {name}",
                _note(
                    f"Best value's 95% interval (low, high) and median (best) over {reps} "
                    f"draws of m = max(1, round(0.25 n)) models with replacement (DDS footnote 4; "
                    f"pycls floors m), by {metric}."
                ),
                table_html(table),
                *imgs,
            )
        )
    return out


def _fit_sections(df: pd.DataFrame, top: int, metric: str = ERROR) -> list[str]:
    """Quantized linear fits of the best models (DDS figure 7)."""
    if "depths" not in df.columns or "widths" not in df.columns:
        return []
    table, fits = tables.fit_table(df, top, metric)
    fig = figures.plot_fits(fits[: min(5, len(fits))], tables.fit_names(table, metric)[:5])
    outside = int((~table["in_space"]).sum())
    bound = int((table["at_bound"] != "").sum())
    return [
        _section(
            "Quantized linear fits of the best models",
            _note(
                "e_fit = mean |log(predicted / observed)| over per-block (built) widths; wm is "
                f"searched in [1.1, max(4, 2 max width / 8)]. {outside} of {len(fits)} fits lie "
                "outside the RegNet space's ranges (d < 64, w0 < 256, wa < 256, 1.5 <= wm <= 3; "
                f"column outside) and {bound} touched a search limit (column at_bound)."
            ),
            table_html(table),
            figure_html(fig, "fits"),
        )
    ]


def write_report(
    results: pd.DataFrame | Sequence[str | os.PathLike] | str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    filters: Iterable[str] = (),
    by: str = "space",
    params: Sequence[str] = DEFAULT_PARAMS,
    top: int = 10,
    bins: int = 10,
    reps: int = 10_000,
    seed: int = 0,
    title: str = "dsd report",
    metric: str = ERROR,
    sources: Sequence[str | os.PathLike] | None = None,
    refine: str | os.PathLike | None = None,
) -> Path:
    """Write the self-contained HTML report of ``results`` (a DataFrame or results files).

    ``metric`` is the error column analysed (``top1_err`` or ``top1_err_min``); ``sources``
    names the inputs in the header (default: the results files, or none for a DataFrame).
    Everything is validated and computed before the file is written (atomically).
    """
    path = check_report_path(out_path)
    df = load_results(results, filters, metric)
    if sources is not None:
        sources = tuple(sources)
    elif isinstance(results, pd.DataFrame):
        sources = ()
    elif isinstance(results, str | os.PathLike):
        sources = (results,)
    else:
        sources = tuple(results)
    page = build_report(
        df,
        by=by,
        params=params,
        top=top,
        bins=bins,
        reps=reps,
        seed=seed,
        title=title,
        metric=metric,
        sources=sources,
        refine=refine,
    )
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
