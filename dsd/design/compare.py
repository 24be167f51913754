"""One step of a chain, a child space's population against its parent's as ``dsd refine`` judges
(one comparison is one test; the loop chooses the level), and what a design writes at its end:
``chain.csv`` and ``report.html``."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dsd.analysis import RefineOptions, figures, report_sections
from dsd.analysis.data import regime_range
from dsd.analysis.page import figure_html, note, page, section, table_html, write_page
from dsd.analysis.refinement import population_of
from dsd.analysis.splits import Levels, judge, measure_samples, side_weights
from dsd.analysis.stats import DIFFERENCE, edf, ks_power
from dsd.design.folder import DesignFolder
from dsd.errors import DsdError
from dsd.io import write_table
from dsd.spaces import Space
from dsd.sweep import Experiment

#: The demo's RegNetX effect (``make demo``: RegNetX vs AnyNetXA, 20 vs 20 models, 5 epochs on
#: digits), the difference a design states its power to see.
DEMO_D = 0.65

#: The paper's verdict of each step of its chain (DDS §3.2, docs/PAPER.md; the RegNet steps'
#: words summarise DDS §3.3-4, which docs/PAPER.md does not quote).
PAPER = {
    ("AnyNetXA", "AnyNetXB"): ("no loss", "B's EDF is virtually identical to A's (DDS §3.2)"),
    ("AnyNetXB", "AnyNetXC"): ("no loss", "B and C have EDFs virtually identical to A (§3.2)"),
    ("AnyNetXC", "AnyNetXD"): ("improves", "D improves the EDF substantially (§3.2)"),
    ("AnyNetXD", "AnyNetXE"): ("improves", "E improves it too (§3.2)"),
    ("AnyNetXE", "RegNet"): ("improves", "the RegNet space improves on AnyNetXE (§3.3)"),
    ("AnyNetXE", "RegNetX"): (
        "improves",
        "the RegNet space improves on AnyNetXE (§3.3), and b = 1, 12 <= d <= 28, wm >= 2 "
        "improve it further (§4: RegNetX)",
    ),
}

COLUMNS = (
    "step parent child candidate verdict paper_verdict agrees paper_words level D p diff ci_low ci_high "
    "p_noloss n_parent n_child subset share_space bins m_eff power power_demo n_needed"
).split()


def share_kept(child: Space, parent: Space) -> tuple[bool, float]:
    """Whether ``child`` extends ``parent``, and the ratio of their exact sizes."""
    subset = parent.name in child.ancestors
    return subset, child.size / parent.size if parent.size else math.nan


def _inside(pop_rows: pd.DataFrame, errors: np.ndarray, lo_hi) -> tuple[np.ndarray, np.ndarray]:
    """Errors and flops of the models inside ``lo_hi``."""
    c = pd.to_numeric(pop_rows["flops"], errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(c) & (c >= lo_hi[0]) & (c <= lo_hi[1]) & np.isfinite(errors)
    return errors[keep], c[keep]


def compare(
    child_rows: pd.DataFrame,
    parent_rows: pd.DataFrame,
    child: Space,
    parent: Space,
    *,
    level: float,
    options: RefineOptions,
) -> tuple[dict, dict]:
    """The statistics and verdict of ``child``'s results against ``parent``'s, and the two
    samples its panel draws."""
    pops = [population_of(r, s, options) for r, s in ((child_rows, child), (parent_rows, parent))]
    both = pd.concat([p.rows for p in pops], ignore_index=True)
    flops = pd.to_numeric(both.get("flops"), errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(flops).any():
        raise DsdError(f"{child.name} vs {parent.name}: no model has a finite flops value")
    lo_hi = regime_range(both) or (float(np.nanmin(flops)), float(np.nanmax(flops)) + 0.5)
    (ec, cc), (ep, cp) = (_inside(p.rows, p.errors, lo_hi) for p in pops)
    if min(ec.size, ep.size) < 2:
        raise DsdError(f"{child.name} vs {parent.name}: fewer than 2 models with an error")
    o = options
    row = measure_samples((ec, cc), (ep, cp), lo_hi, bins=o.bins, reps=o.reps, seed=o.seed)
    levels = Levels(level, o.tolerance, o.power, o.min_models)
    judged = judge(pd.DataFrame([row]), ec.size + ep.size, levels).iloc[0].to_dict()
    subset, share = share_kept(child, parent)
    paper = PAPER.get((parent.name, child.name), ("", ""))
    m = judged["m_eff"]
    out = {
        **judged,
        "parent": parent.name,
        "child": child.name,
        "level": level,
        "n_parent": int(ep.size),
        "n_child": int(ec.size),
        "subset": subset,
        "share_space": share,
        "power_demo": ks_power(2 * m, 2 * m, DEMO_D, level) if m > 0 else 0.0,
        "paper_verdict": paper[0],
        "paper_words": paper[1],
        "agrees": (judged["verdict"] == paper[0]) if paper[0] else None,
    }
    return out, {"child": (ec, cc), "parent": (ep, cp), "lo_hi": lo_hi, "bins": o.bins}


def chain_table(rows: Sequence[dict]) -> pd.DataFrame:
    """``chain.csv``: one row a step, the columns :data:`COLUMNS` in order."""
    table = pd.DataFrame(list(rows)).reindex(columns=COLUMNS, fill_value="")
    return table.assign(agrees=table["agrees"].map(lambda a: "" if a is None else a))


def panel(row: dict, drawn: dict) -> str:
    """The paper-style panel of one step: flops-normalised EDFs, the verdict and the paper's."""
    (ec, cc), (ep, cp) = drawn["child"], drawn["parent"]
    flops = np.concatenate([cc, cp])
    inside = np.arange(flops.size) < ec.size
    (w_c, w_p), b = side_weights(flops, [inside, ~inside], drawn["bins"], drawn["lo_hi"])
    ax = figures.plot_edfs(
        {row["parent"]: edf(ep, w_p), row["child"]: edf(ec, w_c)},
        normalised=b > 1,
        title=f"step {row['step']}: {row['child']} vs {row['parent']}: {row['verdict']}",
    )
    return figure_html(ax, f"{row['parent']} vs {row['child']}") + note(step_words(row))


def step_words(row: dict) -> str:
    """One step in words: the verdict, its statistics, and the paper's."""
    share = (
        f"keeps {100 * row['share_space']:.3g}% of {row['parent']}'s space"
        if row["subset"]
        else f"is not a subset of {row['parent']} (its size is {row['share_space']:.3g} times "
        f"{row['parent']}'s, a ratio of sizes, not a share kept)"
    )
    paper = (
        f"The paper: {row['paper_verdict']} ({row['paper_words']})."
        if row.get("paper_verdict")
        else "The paper has no verdict for this step."
    )
    return (
        f"{row['child']} ({row['n_child']} models) vs {row['parent']} ({row['n_parent']}): "
        f"{row['verdict']} at level {row['level']:.3g}: KS D = {row['D']:.3f} (p = "
        f"{row['p']:.3g}), q25 difference {100 * row['diff']:+.2f}% [{100 * row['ci_low']:+.2f}, "
        f"{100 * row['ci_high']:+.2f}], power {row['power']:.2f} to see D = {DIFFERENCE} and "
        f"{row['power_demo']:.2f} to see D = {DEMO_D}; the child {share}. {paper}"
    )


def chain_section(rows: Sequence[dict], drawn: Sequence[dict], title: str, intro: str) -> str:
    """The report's first section: the chain table, then one panel a step."""
    shown = chain_table(rows).drop(columns=["paper_words"])
    for c in ("diff", "ci_low", "ci_high"):
        shown[c] = 100 * pd.to_numeric(shown[c])
    parts = [note(intro), table_html(shown, "{:.3g}")]
    parts += [panel(r, d) for r, d in zip(rows, drawn, strict=True)]
    return section(title, *parts)


def power_line(exp: Experiment, level: float, what: str) -> str:
    """The power of a comparison of two populations of ``exp.n`` models at ``level``."""
    n = exp.n
    return (
        f"{n} models a population: {what} (at level {level:.3g}) has power "
        f"{ks_power(n, n, DEMO_D, level):.2f} to see a KS difference of D = {DEMO_D} (the demo's "
        f"RegNetX vs AnyNetXA) and {ks_power(n, n, DIFFERENCE, level):.2f} to see D = "
        f"{DIFFERENCE} (before flops normalisation, which lowers the effective sizes)"
    )


def intro(kind: str, exp: Experiment, level_words: str) -> str:
    """The words above the chain table."""
    return (
        f"A {kind} of a chain of design spaces in the regime of experiment {exp.name} "
        f"({exp.n} models a population, {exp.epochs} epochs on {exp.dataset}). Each step compares "
        "an independent population of the child space with its parent's on flops-normalised "
        "EDFs, with the verdicts and tests of dsd refine: improves = KS p < level and the 95% "
        "bootstrap interval of the 25th-percentile difference (child - parent, in %) below 0; "
        "no loss = the test of 'worse by at least the tolerance' rejected; hurts; inconclusive. "
        f"{level_words} share_space: the exact share of the parent's space the child keeps "
        "(when the child is not a subset, a ratio of sizes). power: to see D = "
        f"{DIFFERENCE}; power_demo: "
        f"to see D = {DEMO_D}, the demo's RegNetX effect. paper_verdict: DDS's own words for "
        "the step (below each panel)."
    )


def write_outputs(
    folder: DesignFolder,
    rows: Sequence[dict],
    drawn: Sequence[dict],
    results: Sequence[pd.DataFrame],
    spaces: Sequence[Space],
    exp: Experiment,
    options,
    level_words: str,
    kind: str,
) -> tuple[pd.DataFrame, Path | None]:
    """Write ``chain.csv`` and (if ``options.report``) ``report.html``; the table and its path."""
    table = chain_table(rows)
    write_table(table, folder.chain)
    if not rows or not options.report:
        return table, None
    title = f"dsd design: {' -> '.join(s.name for s in spaces)}"
    first = chain_section(
        rows, drawn, f"The chain, step by step ({kind})", intro(kind, exp, level_words)
    )
    try:
        pops = pd.concat([r for r in results if not r.empty], ignore_index=True)
        rest = report_sections(pops, reps=options.reps, title=title)
    except Exception as e:  # the analysis layer's problem; keep the chain
        sys.stderr.write(f"dsd: warning: report sections not written ({type(e).__name__}: {e})\n")
        rest = []
    return table, write_page(folder.report, page(title, [first, *rest]))
