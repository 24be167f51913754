"""The self-contained HTML report of one or more results sets: one page, images inline, no links.

Every section reads the populations loaded once; errors are in percent throughout.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path

import pandas as pd

from dsd._version import __version__
from dsd.analysis import figures, tables
from dsd.analysis.compare import compare
from dsd.analysis.data import LIST_PARAMS, REASONS, derived_params
from dsd.analysis.fit import UNBOUNDED, regnet_domain
from dsd.analysis.page import (
    check_report_path,
    figure_html,
    note,
    page,
    section,
    table_html,
    write_page,
)
from dsd.analysis.population import (
    AnalysisOptions,
    Populations,
    load_populations,
    normalise,
    options_for,
)
from dsd.analysis.refinement import refinement_sections
from dsd.analysis.runtime import report_sections as runtime_sections
from dsd.analysis.stats import DIFFERENCE, POWER, random_search_efficiency
from dsd.errors import DsdError
from dsd.io import check_not_an_input

#: Most pairs of populations given a verdict sentence (10 populations).
MAX_PAIRS = 45


class _Figures(dict):
    """The figures of one report, by file name: each is inlined once and exported if asked."""

    def html(self, name: str, drawn, alt: str = "") -> str:
        fig = figures.figure_of(drawn)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "figure"
        while slug in self:
            slug += "_"
        self[slug] = fig
        return figure_html(fig, alt or name)


def _provenance(pops: Populations) -> str:
    """The header's provenance table: dsd version, inputs, dataset, epochs, metric."""
    df = pops.rows

    def values(column: str) -> str:
        if column not in df.columns:
            return "(not recorded)"
        return ", ".join(str(v) for v in pd.unique(df[column].dropna().astype(str))) or "-"

    rows = [
        ("report written by", f"dsd {__version__}"),
        ("results written by", values("dsd_version")),
        ("input files", ", ".join(pops.sources) or "(a DataFrame)"),
        ("dataset", values("dataset")),
        ("epochs", values("epochs")),
        ("error metric", tables.metric_label(pops.metric)),
    ]
    return table_html(pd.DataFrame(rows, columns=["", "value"]))


def _ledger_section(pops: Populations) -> str:
    reasons = ", ".join(REASONS)
    return section(
        "Rows read, used and excluded",
        note(
            f"Per population (grouped by {pops.options.by}): rows read from the inputs, rows "
            f"analysed, and rows excluded by reason ({reasons}; non-finite metric: "
            f"{pops.metric} NaN or infinite). Only status=ok rows are analysed unless a status "
            "filter says otherwise."
        ),
        table_html(pops.ledger_table()),
    )


def _ks_section(edfs, kind: str, metric: str) -> str:
    """The KS matrix of ``edfs`` (``kind``: "plain" or "normalised"), D and p side by side."""
    d, p = tables.ks_matrix(edfs)
    d.insert(0, "D", d.index)
    p.insert(0, "p", p.index)
    how = " (scipy's ks_2samp)."
    if kind == "normalised":
        how = " (asymptotic, with Kish effective sizes in place of n)."
    return section(
        f"KS statistic between populations ({kind} EDFs)",
        note(f"D = sup |F1 - F2| of the {kind} EDFs of {metric}, and its p-value" + how),
        table_html(d, "{:.3f}"),
        table_html(p, "{:.3g}"),
    )


def _edf_sections(pops: Populations, figs: _Figures) -> tuple[list[str], Populations | None]:
    """EDF figures (plain and, when possible, normalised by flops), the KS matrices, and the
    normalised populations (None when they could not be drawn)."""
    label = tables.metric_label(pops.metric)
    caption = "; ".join(pops.ledger_lines())
    ax = figures.plot_edfs(
        pops.edfs(), bands="dkw", seed=pops.options.seed, xlabel=label, note=caption
    )
    out = [
        section(
            "Error EDFs",
            figs.html("edf", ax, "error EDFs"),
            note("Shaded: 95% DKW confidence bands. F(e) = fraction of models with error < e."),
        )
    ]
    try:
        normed = normalise(pops, "flops")
    except DsdError as e:
        normed = None
        out.append(section("Normalised EDFs (flops)", note(f"not drawn: {e}")))
    else:
        ax = figures.plot_edfs(normed.edfs(True), normalised=True, xlabel=label, note=caption)
        out.append(
            section(
                "Normalised EDFs (flops)",
                figs.html("edf_normalised", ax, "normalised EDFs"),
                note(normed.normalisation.note + " Legend: n models, eff. = Kish effective size."),
                table_html(tables.summary_table(normed, normalised=True)),
            )
        )
    if len(pops) > 1:
        out.append(_ks_section(pops.edfs(), "plain", pops.metric))
        if normed is not None:
            out.append(_ks_section(normed.edfs(True), "normalised", pops.metric))
    return out, normed


def _verdict_section(pops: Populations) -> list[str]:
    """One sentence a pair of populations: KS at alpha, with its power (dsd compare's words)."""
    pairs = list(combinations(pops, 2))
    sentences = []
    for a, b in pairs[:MAX_PAIRS]:
        if pops[a].n >= 2 and pops[b].n >= 2:
            c = compare(a, pops[a].errors, b, pops[b].errors, alpha=pops.options.alpha)
            sentences.append(f"<li>{html.escape(f'{a} vs {b}: {c.sentence()}')}</li>")
    if not sentences:
        return []
    more = f" (the first {MAX_PAIRS} of {len(pairs)} pairs)" if len(pairs) > MAX_PAIRS else ""
    return [
        section(
            "Verdicts",
            note(
                f"Two-sample KS test of the plain EDFs at alpha = {pops.options.alpha:g}{more}. "
                f"A pair without a significant difference is only 'the same' when the test had "
                f"power {POWER:g} to see a KS difference of {DIFFERENCE:g}; else there were not "
                "enough models to tell."
            ),
            "<ul>" + "\n".join(sentences) + "</ul>",
        )
    ]


def _random_search_section(pops: Populations, normed: Populations | None, figs) -> str:
    if normed is not None:
        rs = {
            n: random_search_efficiency(p.nedf.x, weights=p.nedf.weights) for n, p in normed.items()
        }
        how = "from the flops-normalised weights of the normalised EDFs"
    else:
        rs = {n: random_search_efficiency(p.errors) for n, p in pops.items()}
        how = "uniformly"
    ax = figures.plot_random_search(rs, error_label=f"best {pops.metric} (%)")
    return section(
        "Random search efficiency",
        figs.html("random_search", ax, "random search"),
        note(
            f"Best error of k models drawn with replacement {how} (NDS): mean (line) and mean "
            "-+ 2 standard deviations of that minimum (band, as the NDS notebook draws it)."
        ),
    )


def _complexity_section(pops: Populations, figs: _Figures) -> list[str]:
    metrics = [m for m in ("flops", "params", "acts") if m in pops.rows.columns]
    if not metrics:
        return []
    data = {n: {"error": p.errors, **{m: p.rows[m] for m in metrics}} for n, p in pops.items()}
    axes = figures.plot_complexity(data, metrics, error_label=tables.metric_label(pops.metric))
    return [section("Error against complexity", figs.html("complexity", axes, "complexity"))]


def _available_params(df: pd.DataFrame, params: Sequence[str]) -> list[str]:
    """The parameters with at least two distinct finite values in ``df``."""
    derived = derived_params(df)
    distinct = {c: derived[c].dropna().nunique() for c in derived.columns}
    return [p for p in params if (p in df.columns if p in LIST_PARAMS else distinct.get(p, 0) > 1)]


def _bootstrap_sections(pops: Populations, figs: _Figures) -> list[str]:
    """Bootstrap table and scatter figures for the parameters present in each population."""
    out = []
    o, label = pops.options, tables.metric_label(pops.metric)
    for name, p in pops.items():
        avail = _available_params(p.rows, o.params)
        if not avail or p.n < 2:
            continue
        one = Populations({name: p}, {name: p.ledger}, o, pops.sources)
        table, details = tables.bootstrap_table(one, avail)
        imgs = [
            figs.html(
                f"bootstrap_{name}_{param}",
                figures.plot_bootstrap(
                    v, p.errors, r, labels, title=f"{name}: {param}", error_label=label
                ),
                param,
            )
            for (_, param), (labels, v, r) in details.items()
        ]
        text = (
            f"Best value's {o.ci:.0%} interval (low, high) and median (best) over {o.reps} draws "
            f"of m = max(1, round({o.frac:g} n)) models with replacement (DDS footnote 4; pycls "
            f"floors m), by {pops.metric}."
        )
        title = f"Bootstrap of the best parameters: {name}"
        out.append(section(title, note(text), table_html(table), *imgs))
    return out


def _fit_sections(pops: Populations, figs: _Figures) -> list[str]:
    """Quantized linear fits of each population's best models (DDS figure 7)."""
    if not {"depths", "widths"} <= set(pops.rows.columns):
        return []
    table, fits = tables.fit_tables(pops)
    if pops.options.fit_domain is UNBOUNDED:
        where = (
            "anywhere (unbounded: w0, wa and wm up to 2 max width / 8, outside the RegNet space "
            "allowed)"
        )
    else:
        d = regnet_domain()
        where = (
            f"within the RegNet space's ranges (spaces/RegNet.yaml: w0 {d.w0[0]:g}..{d.w0[1]:g}, "
            f"wa {d.wa[0]:g}..{d.wa[1]:g}, wm {d.wm[0]:g}..{d.wm[1]:g}, d <= {d.d[1]:g})"
        )
    parts = [
        note(
            f"Each population's {pops.options.top} best models, fitted separately (the paper fits "
            f"the best models of a space). e_fit = mean |log(predicted / observed)| over per-block "
            f"(built) widths; (w0, wa, wm) searched {where}. {int((~table['in_space']).sum())} "
            f"of {len(table)} fits lie outside the RegNet space's ranges (column outside) and "
            f"{int((table['at_bound'] != '').sum())} touched a search limit (column at_bound)."
        ),
        *(note(n) for n in table.attrs["notes"]),
        table_html(table),
    ]
    for name, (part, pop_fits) in fits.items():
        names = tables.fit_names(part, pops.metric)[:5]
        ax = figures.plot_fits(pop_fits[:5], names, title=f"{name}: best models and their fits")
        parts.append(figs.html(f"fits_{name}", ax, f"fits of {name}"))
    return [section("Quantized linear fits of the best models", *parts)]


def _sections(pops: Populations, figs: _Figures) -> list[str]:
    """Every section of the report, in order."""
    o = pops.options
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    label = tables.metric_label(pops.metric)
    body = [
        note(
            f"{len(pops.rows)} models in {len(pops)} population(s) grouped by {o.by}; generated {now}."
        ),
        _provenance(pops),
        _ledger_section(pops),
        section("Summary", note(f"Errors: {label}."), table_html(tables.summary_table(pops))),
    ]
    edf_parts, normed = _edf_sections(pops, figs)
    body += [*edf_parts, *_verdict_section(pops), _random_search_section(pops, normed, figs)]
    body += _complexity_section(pops, figs)
    body += runtime_sections(pops.rows, figure=figs.html)
    body += _bootstrap_sections(pops, figs)
    body += _fit_sections(pops, figs)
    if o.refine is not None:
        body += refinement_sections(pops, o.refine)
    best = tables.best_table(pops, o.top)
    body.append(section(f"Best {o.top} models of each population", table_html(best)))
    return body


def _build(results, options: AnalysisOptions) -> tuple[str, _Figures]:
    figs = _Figures()
    return page(options.title, _sections(load_populations(results, options), figs)), figs


def report_sections(results, options: AnalysisOptions | None = None, **changes) -> list[str]:
    """The report's sections (HTML) for ``results``, for another's page (``dsd design``'s)."""
    options = options_for(results, options, changes)
    return _sections(load_populations(results, options), _Figures())


def build_report(results, options: AnalysisOptions | None = None, **changes) -> str:
    """The report's HTML for ``results`` as ``options`` (with ``changes``, e.g. ``reps=200``) say."""
    return _build(results, options_for(results, options, changes))[0]


def check_figures_dir(path: str | os.PathLike) -> Path:
    """A folder to export figures to: an existing folder, or a new one in an existing folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DsdError(f"--figures {path}: exists and is not a folder")
    parent = path if path.exists() else path.parent
    if not parent.is_dir():
        raise DsdError(f"--figures {path}: folder {parent} does not exist")
    return path


def write_report(
    results, out_path: str | os.PathLike, options: AnalysisOptions | None = None, **changes
) -> Path:
    """Write the HTML report of ``results`` (and, with ``options.figures``, each figure as
    ``FIGURES/<name>.<figure_format>``), atomically, after everything is validated and computed;
    no output may be one of the inputs."""
    options = options_for(results, options, changes)
    path = check_report_path(out_path)
    inputs = [] if isinstance(results, pd.DataFrame | Populations) else results
    inputs = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    check_not_an_input(path, inputs)
    folder = check_figures_dir(options.figures) if options.figures is not None else None
    if folder is not None:
        check_not_an_input(folder, inputs)
    text, figs = _build(results, options)
    write_page(path, text)
    if folder is not None:
        folder.mkdir(exist_ok=True)
        for name, fig in figs.items():
            out = check_not_an_input(folder / f"{name}.{options.figure_format}", inputs)
            figures.save_figure(fig, out)
    return path
