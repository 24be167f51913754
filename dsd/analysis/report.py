"""The self-contained HTML report of one or more results sets: one page, images inline, no links.

Sections: summary, error EDFs (plain and normalised by flops), KS matrix between populations,
random-search efficiency, error against complexity, bootstrap tables and scatters, quantized
linear fits of the best models, and the best models. :func:`write_report` is what ``dsd report``
and ``dsd run`` call.
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

from dsd.analysis import figures, tables
from dsd.analysis.data import ERROR, derived_params, groups, load_results
from dsd.analysis.runtime import report_sections as runtime_sections
from dsd.analysis.stats import random_search_efficiency
from dsd.errors import DsdError
from dsd.io import atomic_path, check_output_path

REPORT_SUFFIXES = (".html", ".htm")
DEFAULT_PARAMS = ("d", "depths", "widths", "b", "g", "w0", "wa", "wm")
BEST_COLUMNS = (
    "model_id",
    "space",
    ERROR,
    "depths",
    "widths",
    "bottleneck_ratios",
    "group_widths",
    "flops",
    "params",
    "acts",
)

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


def _edf_sections(pops, bins: int, seed: int) -> list[str]:
    """EDF figures (plain and, when possible, normalised by flops) and the KS matrix."""
    edfs = tables.population_edfs(pops)
    parts = [figure_html(figures.plot_edfs(edfs, bands="dkw", seed=seed), "error EDFs")]
    parts.append(
        _note("Shaded: 95% DKW confidence bands. F(e) = fraction of models with error < e.")
    )
    out = [_section("Error EDFs", *parts)]
    try:
        nedfs = tables.population_edfs(pops, normalize="flops", bins=bins)
    except DsdError as e:
        out.append(_section("Normalised EDFs", _note(f"not drawn: {e}")))
        nedfs = None
    else:
        out.append(
            _section(
                "Normalised EDFs (flops)",
                figure_html(figures.plot_edfs(nedfs, normalized=True), "normalised EDFs"),
                _note(f"Models weighted so that flops are uniform over {bins} shared bins (NDS)."),
            )
        )
    if len(edfs) > 1:
        d, p = tables.ks_matrix(nedfs or edfs)
        d.insert(0, "D", d.index)
        p.insert(0, "p", p.index)
        kind = "normalised" if nedfs else "plain"
        out.append(
            _section(
                "KS statistic between populations",
                _note(f"D = sup |F1 - F2| of the {kind} EDFs, and its p-value."),
                table_html(d, "{:.3f}"),
                table_html(p, "{:.3g}"),
            )
        )
    return out


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
    refine: str | os.PathLike | None = None,
) -> str:
    """The report's HTML for an already loaded and filtered results DataFrame; ``refine`` names a
    space whose refinement section (:mod:`dsd.analysis.refinement`) is added."""
    if df.empty:
        raise DsdError("no results left to report (all filtered out or no ok rows)")
    pops = groups(df, by)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<h1>{html.escape(title)}</h1>",
        _note(f"{len(df)} models in {len(pops)} population(s) grouped by {by}; generated {now}."),
        _section("Summary", table_html(tables.summary_table(pops))),
    ]
    body += _edf_sections(pops, bins, seed)
    rs = {name: random_search_efficiency(p[ERROR]) for name, p in pops.items()}
    body.append(
        _section(
            "Random search efficiency", figure_html(figures.plot_random_search(rs), "random search")
        )
    )
    metrics = [m for m in ("flops", "params", "acts") if m in df.columns]
    if metrics:
        data = {name: {"error": p[ERROR], **{m: p[m] for m in metrics}} for name, p in pops.items()}
        body.append(
            _section(
                "Error against complexity",
                figure_html(figures.plot_complexity(data, metrics), "complexity"),
            )
        )
    body += runtime_sections(df)
    body += _bootstrap_sections(pops, params, reps, seed)
    body += _fit_sections(df, top)
    if refine is not None:
        from dsd.analysis.refinement import refinement_sections

        body += refinement_sections(df, refine, seed=seed)
    best = tables.top_models(df, top)
    best = best[[c for c in BEST_COLUMNS if c in best.columns]]
    body.append(_section(f"Best {len(best)} models", table_html(best.astype(object))))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _bootstrap_sections(pops, params, reps: int, seed: int) -> list[str]:
    """Bootstrap table and scatter figures for the parameters present in each population."""
    out = []
    for name, p in pops.items():
        avail = _available_params(p, params)
        if not avail or len(p) < 2:
            continue
        table, details = tables.bootstrap_table({name: p}, avail, reps=reps, seed=seed)
        imgs = [
            figure_html(
                figures.plot_bootstrap(v, p[ERROR], r, labels, title=f"{name}: {param}"), param
            )
            for (_, param), (labels, v, r) in details.items()
        ]
        out.append(
            _section(
                f"Bootstrap of the best parameters: {name}",
                _note(
                    f"Best value's 95% interval (low, high) and median (best) over {reps} "
                    "draws of 25% of the models (DDS footnote 4)."
                ),
                table_html(table),
                *imgs,
            )
        )
    return out


def _fit_sections(df: pd.DataFrame, top: int) -> list[str]:
    """Quantized linear fits of the best models (DDS figure 7)."""
    if "depths" not in df.columns or "widths" not in df.columns:
        return []
    table, fits = tables.fit_table(df, top)
    fig = figures.plot_fits(fits[: min(5, len(fits))], list(table["model_id"][:5]))
    return [
        _section(
            "Quantized linear fits of the best models",
            _note("e_fit = mean |log(predicted / observed)| over per-block widths."),
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
    refine: str | os.PathLike | None = None,
) -> Path:
    """Write the self-contained HTML report of ``results`` (a DataFrame or results files).

    Everything is validated and computed before the file is written (atomically).
    """
    path = check_report_path(out_path)
    df = load_results(results, filters)
    page = build_report(
        df,
        by=by,
        params=params,
        top=top,
        bins=bins,
        reps=reps,
        seed=seed,
        title=title,
        refine=refine,
    )
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
