"""What a design writes at its end: ``chain.csv`` and ``report.html`` (the chain's panels first,
then the usual report sections of every population: :func:`dsd.analysis.report_sections`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from dsd.analysis import ks_power, report_sections
from dsd.analysis.page import page, write_page
from dsd.analysis.stats import DIFFERENCE
from dsd.design.compare import DEMO_D, chain_section, chain_table
from dsd.design.folder import DesignFolder
from dsd.io import write_table
from dsd.spaces import Space
from dsd.sweep import Experiment


def power_line(exp: Experiment, level: float, what: str) -> str:
    """The power of a comparison of two populations of ``exp.n`` models at ``level``: to see
    the demo's RegNetX effect (KS D = 0.65) and a difference of D = 0.2."""
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
        "(when the child is not a subset, a ratio of sizes). power: to see D = 0.2; power_demo: "
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
    """Write ``chain.csv`` and, unless ``options.report`` is false (:class:`DesignOptions`),
    ``report.html``; the chain table and the report's path."""
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
        print(
            f"dsd: warning: report sections not written ({type(e).__name__}: {e})", file=sys.stderr
        )
        rest = []
    return table, write_page(folder.report, page(title, [first, *rest]))
