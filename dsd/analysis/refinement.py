"""Refining a design space from one population: the paper's step, automated (``dsd refine``).

In DDS a person looks at the EDFs of a population and picks the next constraint. :func:`refine`
does it from the population itself: it builds candidate refinements from the space's declaration
(:mod:`dsd.analysis.candidates`), tests the split each one makes of the population
(:mod:`dsd.analysis.splits`) and returns a table, one row a split, best first;
:func:`write_refined_space` writes the next space through the spaces API
(:func:`dsd.spaces.write_space`). :class:`RefineOptions` holds every setting.

The table's columns: ``candidate`` (its name), ``verdict``, ``D`` (KS between the sides on
flops-normalised EDFs), ``p_adj`` (Benjamini-Hochberg over the tests), ``diff`` (``in - out``
of the 25th percentile) with its 95% bootstrap interval ``ci_low``..``ci_high``, ``n_in`` /
``n_out`` (models a side), ``share_space`` (the exact share of the space kept),
``share_pop``, ``D_whole``, ``p``, ``stat_in`` / ``stat_out``, ``bins``, ``m_eff`` (effective
size of the split), ``power`` (to see a KS difference of 0.2 among the tests), ``n_needed``
(models that would resolve the observed D), ``kind`` and ``constraints`` (JSON text, the
space-file syntax). ``table.attrs`` records the settings and the population.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import reduce
from pathlib import Path

import numpy as np
import pandas as pd

from dsd.analysis import figures
from dsd.analysis.candidates import (
    Candidate,
    default_candidates,
    design_arrays,
    parse_constraints,
    read_candidates,
)
from dsd.analysis.commands import Output
from dsd.analysis.data import ERROR, regime_range
from dsd.analysis.page import (
    check_report_path,
    figure_html,
    note,
    page,
    section,
    table_html,
    write_page,
)
from dsd.analysis.population import AnalysisOptions, Population, Populations, load_populations
from dsd.analysis.splits import (
    CORRECTION,
    QUANTILE,
    VERDICTS,
    Sample,
    judge,
    side_weights,
    test_split,
)
from dsd.analysis.stats import ALPHA, DIFFERENCE, POWER, edf, ks_models_needed, ks_power
from dsd.analysis.tables import complexity_text
from dsd.errors import DsdError
from dsd.io import check_output_path, write_table
from dsd.spaces import Constraints, Space, load_space, write_space

Results = pd.DataFrame | Sequence[str | os.PathLike] | str | os.PathLike | Populations


@dataclass(frozen=True)
class RefineOptions:
    """Every setting of :func:`refine` (validated here).

    ``metric`` (the error column, fractions) and ``filters`` (``key=value``; ``status=ok``
    unless a status filter is given) say which rows form the population; ``alpha`` is the level
    of every verdict, ``tolerance`` the largest difference of the 25th percentile (error units,
    fractions) that counts as "no loss", ``bins`` the most flop bins of a normalised EDF,
    ``reps`` the bootstrap draws, ``min_models`` the fewest models a side needs for a verdict,
    ``power`` the power sample sizes are stated for, ``seed`` the bootstrap's seed.
    """

    metric: str = ERROR
    filters: tuple[str, ...] = ()
    alpha: float = ALPHA
    tolerance: float = 0.01
    bins: int = 10
    reps: int = 1000
    min_models: int = 10
    power: float = POWER
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "filters", tuple(str(f) for f in self.filters))
        self.loading()  # metric, filters, alpha, bins, reps, seed: one line for a bad value
        ok = math.isfinite(self.tolerance) and self.tolerance >= 0
        if not (ok and self.reps >= 10 and self.min_models >= 2 and 0 < self.power < 1):
            raise DsdError("need tolerance >= 0, reps >= 10, min_models >= 2, 0 < power < 1")

    def loading(self) -> AnalysisOptions:
        """The analysis options that load the population (grouped by space)."""
        shared = ("metric", "filters", "bins", "reps", "seed", "alpha")
        return AnalysisOptions(**{k: getattr(self, k) for k in shared})


@dataclass(frozen=True, eq=False)
class Prepared:
    """A population ready for refinement: its ``space``, the :class:`Population` (rows used and
    ledger), the drawn ``design`` and the :class:`~dsd.analysis.splits.Sample` of the models
    inside the normalisation range (``range_source``: the regime column or the data)."""

    space: Space
    population: Population
    design: dict[str, np.ndarray]
    sample: Sample
    range_source: str


def refine(
    results: Results,
    space: str | os.PathLike | Space,
    options: RefineOptions | None = None,
    *,
    candidates: Sequence[Candidate] | None = None,
    extra: Sequence[Candidate] = (),
    **changes,
) -> pd.DataFrame:
    """Test refinements of ``space`` on a population; one row a split, best first.

    ``results``: a DataFrame, results files or loaded populations (the rows of ``space``).
    ``options`` (:class:`RefineOptions`, with ``changes`` such as ``alpha=0.01``) say how.
    ``candidates`` replaces :func:`~dsd.analysis.candidates.default_candidates`; ``extra``
    adds to them. ``table.attrs`` records the settings (metric, correction, level, n, regime).
    """
    options = dataclasses.replace(options or RefineOptions(), **changes)
    return tabulate(prepare(results, space, options), options, candidates, extra)


def tabulate(
    prep: Prepared,
    options: RefineOptions,
    candidates: Sequence[Candidate] | None = None,
    extra: Sequence[Candidate] = (),
) -> pd.DataFrame:
    """The table of :func:`refine` for a prepared population."""
    sp, sample = prep.space, prep.sample
    cands = default_candidates(sp, prep.design) if candidates is None else list(candidates)
    cands += list(extra)
    if not cands:
        raise DsdError(f"{sp.name}: no candidate refinements (every parameter is fixed)")
    size = sp.size
    rows, seen = [], set()
    for cand in cands:
        inside = cand.holds(sp, prep.design)
        key = inside.tobytes()
        if cand.kind == "range" and (key in seen or inside.all() or not inside.any()):
            continue
        seen.add(key)
        share = sp.with_constraints(cand.constraints).size / size if size else math.nan
        row = {"candidate": cand.name, "kind": cand.kind, "constraints": cand.text}
        rows.append({**row, "share_space": share, **test_split(inside, sample, options.bins)})
    o = options
    table = judge(pd.DataFrame(rows), sample.n, o.alpha, o.tolerance, o.power, o.min_models)
    table = table[COLUMNS]
    table.attrs.update(_attrs(prep, options, int(table["p"].notna().sum())))
    return table


#: The table's columns, in order.
COLUMNS = (
    "candidate verdict D p_adj diff ci_low ci_high n_in n_out share_space share_pop D_whole p "
    "stat_in stat_out bins m_eff power n_needed kind constraints"
).split()


def _attrs(prep: Prepared, o: RefineOptions, tests: int) -> dict:
    """The settings and the population a table was made with (JSON values)."""
    return {
        **dataclasses.asdict(o),
        "correction": CORRECTION,
        "n": prep.sample.n,
        "tests": tests,
        "regime": list(prep.sample.range),
        "regime_source": prep.range_source,
        "statistic": f"q{int(QUANTILE * 100)} of the flops-normalised error EDF",
        "space": prep.space.name,
        "space_source": prep.space.source,
        "space_size": prep.space.size,
    }


def prepare(results: Results, space: str | os.PathLike | Space, o: RefineOptions) -> Prepared:
    """The rows of ``space`` in ``results`` as :func:`refine` tests them (DsdError if too few)."""
    sp = space if isinstance(space, Space) else load_space(space)
    pop = population_of(results, sp, o)
    df = pop.rows
    if "flops" not in df.columns:
        raise DsdError("results have no 'flops' column (needed to normalise the EDFs)")
    c = pd.to_numeric(df["flops"], errors="coerce").to_numpy(dtype=float)
    regime = regime_range(df)
    lo_hi = regime or (float(np.nanmin(c)), float(np.nanmax(c)))
    if not lo_hi[1] > lo_hi[0]:
        lo_hi = (lo_hi[0] - 0.5, lo_hi[0] + 0.5)
    inside = np.isfinite(c) & (c >= lo_hi[0]) & (c <= lo_hi[1])
    e = pop.errors[inside]
    if e.size < 4:
        raise DsdError(f"only {e.size} models with a finite {o.metric}; refine needs a population")
    design = {k: v[inside] for k, v in design_arrays(df).items()}
    sample = Sample.of(e, c[inside], lo_hi, o.bins, o.reps, o.seed)
    source = "regime column" if regime else "population min..max"
    return Prepared(sp, pop, design, sample, source)


def population_of(results: Results, space: Space, o: RefineOptions) -> Population:
    """The population of ``space`` in ``results`` (rows grouped by their ``space``)."""
    pops = load_populations(results, o.loading())
    if space.name in pops:
        return pops[space.name]
    if len(pops) == 1:
        return next(iter(pops.values()))
    raise DsdError(f"no rows of space {space.name!r} in the results (spaces: {', '.join(pops)})")


# --- the next space -----------------------------------------------------------------------------


def chosen(table: pd.DataFrame, only_improving: bool = False) -> pd.DataFrame:
    """The refinements to write: the best ``improves`` and, unless ``only_improving``, the
    ``no loss`` simplifications of the structural kinds (shared, non-decreasing) compatible with
    it and with each other. Each was tested alone; their combination was not."""
    picks: list[int] = []
    used: set[str] = set()
    verdict = table["verdict"]
    order = list(table.index[verdict == "improves"][:1])
    if not only_improving:
        structural = table["kind"].isin(("shared", "non_decreasing"))
        order += list(table.index[(verdict == "no loss") & structural])
    for i in order:
        c = json.loads(table.at[i, "constraints"])
        params = {p for k in ("shared", "non_decreasing", "non_increasing") for p in c.get(k, [])}
        if params & used:
            continue
        used |= params
        picks.append(i)
    return table.loc[picks]


def write_refined_space(
    table: pd.DataFrame,
    space: str | os.PathLike | Space,
    out_path: str | os.PathLike,
    *,
    only_improving: bool = False,
    sources: str = "",
) -> Path | None:
    """Write the next space (``extends`` ``space``, adds the constraints :func:`chosen` picks,
    one comment of evidence each) to ``out_path`` with :func:`dsd.spaces.write_space`
    (atomically, loaded back first); None (nothing written) when no candidate qualifies."""
    sp = space if isinstance(space, Space) else load_space(space)
    out = check_output_path(out_path, (".yaml", ".yml"))
    picks = chosen(table, only_improving)
    if picks.empty:
        return None
    parts = [parse_constraints(t, str(out)) for t in picks["constraints"]]
    write_space(
        out,
        name=out.stem,
        extends=sp,
        description=f"{sp.name} + {'; '.join(picks['candidate'])}",
        constraints=reduce(Constraints.merge, parts, Constraints()),
        notes=_evidence(table, sp, out, picks, sources),
    )
    return out


def _evidence(table, sp: Space, out: Path, picks: pd.DataFrame, sources: str) -> list[str]:
    """The comments of a refined space file: how it was made, and each constraint's evidence."""
    a = table.attrs
    origin = f" from {sources}" if sources else ""
    lines = [
        f"{out.stem}: {sp.name} refined by dsd refine{origin} ({a.get('n', '?')} models, "
        f"metric {a.get('metric', ERROR)}),",
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}. Evidence per constraint: "
        "verdict; KS D between the models that satisfy it",
        "and the rest on flops-normalised error EDFs, with its "
        f"{a.get('correction', CORRECTION)}-adjusted p over {a.get('tests', '?')} candidates;",
        "the difference of the EDF's 25th percentile (in - rest, error %) with its 95% "
        "bootstrap interval;",
        "models in vs rest; the exact share of the space kept. Each constraint was tested alone.",
    ]
    for r in picks.itertuples():
        lines.append(
            f"{r.candidate}: {r.verdict}; D={r.D:.3f}, p_adj={r.p_adj:.2g}; "
            f"q25 {100 * r.diff:+.2f} [{100 * r.ci_low:+.2f}, {100 * r.ci_high:+.2f}] %; "
            f"{r.n_in} vs {r.n_out} models; keeps {100 * r.share_space:.3g}% of the space"
        )
    return lines


# --- presenting ---------------------------------------------------------------------------------


def format_table(table: pd.DataFrame, top: int = 20) -> str:
    """The candidate table as text (errors in percent), ``top`` rows, with a header of settings."""
    a = table.attrs
    t = table.head(top)
    shown = pd.DataFrame(
        {
            "candidate": t["candidate"],
            "verdict": t["verdict"],
            "D": t["D"].map(lambda v: f"{v:.3f}"),
            "p_adj": t["p_adj"].map(lambda v: f"{v:.2g}"),
            "q25 in-out %": [
                f"{100 * d:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"
                for d, lo, hi in zip(t["diff"], t["ci_low"], t["ci_high"], strict=True)
            ],
            "in/out": [f"{i}/{o}" for i, o in zip(t["n_in"], t["n_out"], strict=True)],
            "space kept %": t["share_space"].map(lambda v: f"{100 * v:.3g}"),
            "bins": t["bins"],
            "n_needed": t["n_needed"].map(lambda v: "-" if not np.isfinite(v) else f"{int(v)}"),
        }
    )
    counts = table["verdict"].value_counts()
    head = (
        f"{a.get('space')}: {a.get('n')} models, metric {a.get('metric')}, "
        f"{a.get('tests')} candidates tested; KS on flops-normalised EDFs over "
        f"{complexity_text(a['regime'][0])}..{complexity_text(a['regime'][1])} ({a.get('regime_source')}); "
        f"p adjusted by {a.get('correction')}; q25 interval: {a.get('reps')} bootstrap draws, 95%\n"
        + ", ".join(f"{v}: {counts.get(v, 0)}" for v in VERDICTS)
        + (f" (showing {len(t)} of {len(table)})" if len(t) < len(table) else "")
    )
    return head + "\n" + shown.to_string(index=False)


def sample_size_note(table: pd.DataFrame, ds: Sequence[float] = (0.05, 0.1, DIFFERENCE)) -> str:
    """How many models resolve a KS difference, and the power of this population (NDS: KS vs n)."""
    a = table.attrs
    alpha, power, k, n = a["alpha"], a["power"], max(int(a["tests"]), 1), int(a["n"])
    one = ", ".join(f"D={d:g}: {ks_models_needed(d, alpha, power):,}" for d in ds)
    many = ", ".join(f"D={d:g}: {ks_models_needed(d, alpha / k, power):,}" for d in ds)
    half = ks_power(n / 2, n / 2, DIFFERENCE, alpha / k)
    lines = [
        f"sample size (two-sample KS, power {power:g}): models per population to resolve a "
        f"difference D between two spaces at level {alpha:g}: {one};",
        f"  among {k} candidates (Bonferroni {alpha:g}/{k}): {many}.",
        f"  this population (n={n}) split half/half has power {half:.2f} to see D = "
        f"{DIFFERENCE:g} among {k} candidates",
    ]
    first = table.iloc[0] if len(table) else None
    if first is not None and np.isfinite(first["D"]):
        need = f"{first['n_needed']:,.0f}" if np.isfinite(first["n_needed"]) else "more"
        lines[-1] += (
            f"; the first candidate's split ({first['n_in']}/{first['n_out']}) has power "
            f"{first['power']:.2f}, and {need} models would resolve its D = {first['D']:.3f}"
        )
    return "\n".join(lines) + "."


def refine_section(table: pd.DataFrame, prep: Prepared, *, top: int = 3, seed: int = 0) -> str:
    """The refinement section of a report: the table and, for the ``top`` candidates, the
    flops-normalised EDFs of the two sides with 95% DKW bands."""
    a = table.attrs
    shown = table.drop(columns=["constraints"]).copy()
    for col in ("diff", "ci_low", "ci_high", "stat_in", "stat_out", "share_space"):
        shown[col] = 100 * shown[col]
    parts = [
        note(
            f"{a.get('n')} models of {prep.space.name}, metric {a.get('metric')} (errors in %). "
            "Each candidate compares the models that satisfy it (in) with the rest (out) on "
            f"flops-normalised EDFs: KS D, p adjusted by {a.get('correction')} over "
            f"{a.get('tests')} candidates, the difference of the 25th percentile (in - out) with "
            "a 95% bootstrap interval, the exact share of the space kept (%), models per side "
            "and, for inconclusive candidates, n_needed: models the population would need to "
            "resolve the observed D."
        ),
        table_html(shown, "{:.3g}"),
        note(sample_size_note(table)),
    ]
    parts += [_sides_figure(r, prep, seed) for r in table.head(top).itertuples() if r.bins]
    return section(f"Refinement candidates: {prep.space.name}", *parts)


def _sides_figure(r, prep: Prepared, seed: int) -> str:
    """The normalised EDFs of a candidate's two sides, as an inline image."""
    cand = Candidate(r.candidate, r.kind, parse_constraints(r.constraints))
    inside, s = cand.holds(prep.space, prep.design), prep.sample
    (w_in, w_out), b = side_weights(s.flops, [inside, ~inside], int(r.bins), s.range)
    ax = figures.plot_edfs(
        {f"in: {r.candidate}": edf(s.errors[inside], w_in), "out": edf(s.errors[~inside], w_out)},
        bands="dkw",
        normalised=b > 1,
        seed=seed,
        title=f"{r.candidate}: {r.verdict} (D={r.D:.3f}, p_adj={r.p_adj:.2g}, {b} flop bins)",
    )
    return figure_html(ax, r.candidate)


def refinement_sections(results: Results, space: str | os.PathLike | Space, *, seed: int = 0):
    """The refinement section of ``dsd report --refine SPACE``: :func:`refine` with its defaults
    on the rows of ``space``, then :func:`refine_section`."""
    options = RefineOptions(seed=seed)
    prep = prepare(results, space, options)
    return [refine_section(tabulate(prep, options), prep, seed=seed)]


# --- the command --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefineRequest:
    """What ``dsd refine`` is asked for: the ``results`` files and the ``space``; a user
    ``candidates`` file (instead of the defaults with ``no_defaults``); the outputs: the next
    space (``output``, ``only_improving``), the whole ``table`` and an HTML ``report``; the
    ``top`` rows to print."""

    results: tuple[str, ...]
    space: str
    candidates: str | None = None
    no_defaults: bool = False
    output: str | None = None
    only_improving: bool = False
    table: str | None = None
    report: str | None = None
    top: int = 20


def refine_command(request: RefineRequest, options: RefineOptions) -> tuple[Output, int]:
    """``dsd refine``: outputs checked first (writable, distinct, none an input), then the
    table (and the files asked for). Returns what to print and the exit code."""
    r = request
    out = check_output_path(r.output, (".yaml", ".yml")) if r.output else None
    table_out = check_output_path(r.table) if r.table else None
    report = check_report_path(r.report) if r.report else None
    space = load_space(r.space)
    extra = read_candidates(r.candidates, space) if r.candidates else []
    if r.no_defaults and not extra:
        raise DsdError("--no-defaults needs --candidates FILE")
    prep = prepare(list(r.results), space, options)
    table = tabulate(
        prep, options, extra if r.no_defaults else None, [] if r.no_defaults else extra
    )
    text = [format_table(table, r.top), "", sample_size_note(table)]
    if table_out:
        write_table(table, table_out)
    if report:
        write_page(report, page(f"dsd refine: {space.name}", [refine_section(table, prep)]))
        text.append(f"report -> {report}")
    code = 0
    if out:
        line, code = _write_next(table, space, out, r)
        text.append(line)
    notes = [f"{space.name}: {prep.population.ledger.describe(options.metric)}"]
    return Output("\n".join(text), tuple(notes)), code


def _write_next(table: pd.DataFrame, space: Space, out: Path, r: RefineRequest) -> tuple[str, int]:
    """Write the next space; the line that says what was written, and the exit code."""
    sources = ", ".join(map(str, r.results))
    written = write_refined_space(
        table, space, out, only_improving=r.only_improving, sources=sources
    )
    if written is None:
        return "no candidate improves or is a no-loss simplification: no space written", 0
    picks = chosen(table, r.only_improving)
    size = load_space(written).size
    return (
        f"refined space -> {written} (adds: {'; '.join(picks['candidate'])}; "
        f"exact size {size:,} = {size:.2e}, {100 * size / space.size:.3g}% of {space.name})"
    ), 0
