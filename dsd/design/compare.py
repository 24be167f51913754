"""One step of a chain: a child space's population against its parent's, as ``dsd refine`` judges.

:func:`compare` puts the two independent populations through
:func:`dsd.analysis.splits.measure_samples` (flops-normalised EDFs over shared bins, KS, the 25th
percentile's difference ``child - parent`` with its bootstrap interval, each population resampled
within itself) and :func:`dsd.analysis.splits.judge` (the same verdicts and tests as a split of
``dsd refine``: "improves" = KS p < level and the interval below 0, "no loss" = the
non-inferiority test of "worse by at least the tolerance" rejected at the level). One comparison
is one test, so the Benjamini-Hochberg adjustment of ``judge`` leaves its p as it is; the loop
chooses the level (see :mod:`dsd.design`).

:data:`PAPER` holds the paper's own verdict of each step of its chain, in words, for the table
and the report; :func:`chain_section` draws the paper-style panel of every step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from dsd.analysis import RefineOptions, figures
from dsd.analysis.data import regime_range
from dsd.analysis.page import figure_html, note, section, table_html
from dsd.analysis.refinement import population_of
from dsd.analysis.splits import Levels, judge, measure_samples, side_weights
from dsd.analysis.stats import edf, ks_power
from dsd.errors import DsdError
from dsd.spaces import Space

#: The demo's RegNetX effect (``make demo``: RegNetX vs AnyNetXA, 20 vs 20 models, 5 epochs on
#: digits): KS D = 0.65. The power a design states is the power to see a difference this size.
DEMO_D = 0.65

#: The paper's verdict of each step of its chain, in its words (DDS §3.2 and docs/PAPER.md: "B and
#: C have EDFs virtually identical to A; D improves the EDF substantially; E improves it too").
#: docs/PAPER.md quotes nothing for the RegNet step: its words here are a summary of DDS §3.3-4.
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

#: The columns of ``chain.csv``, in order.
COLUMNS = (
    "step parent child candidate verdict paper_verdict agrees paper_words level D p diff ci_low ci_high "
    "p_noloss n_parent n_child subset share_space bins m_eff power power_demo n_needed"
).split()


def share_kept(child: Space, parent: Space) -> tuple[bool, float]:
    """Whether ``child`` extends ``parent`` (a subset of it) and the ratio of their exact sizes:
    the share of the parent's space kept when it is a subset, else only a ratio of sizes."""
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
    """The statistics and verdict of ``child``'s population against ``parent``'s (results rows
    of each; status and metric as ``options`` say), and the two samples drawn in the panel."""
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
    table = pd.DataFrame(list(rows))
    for c in COLUMNS:
        if c not in table:
            table[c] = ""
    return table[COLUMNS].assign(agrees=table["agrees"].map(lambda a: "" if a is None else a))


def panel(row: dict, drawn: dict) -> str:
    """The paper-style panel of one step: parent and child EDFs (flops-normalised), titled with
    the verdict, beside the paper's verdict in words."""
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
        f"{100 * row['ci_high']:+.2f}], power {row['power']:.2f} to see D = 0.2 and "
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


__all__ = ["COLUMNS", "DEMO_D", "PAPER", "chain_section", "chain_table", "compare"]
