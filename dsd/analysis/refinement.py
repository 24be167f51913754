"""``dsd refine``: test the candidate refinements of a space on one population, one row a split,
best first (the paper's step, automated: docs/POPULATIONS.md §10), and write the next space.
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

from dsd.analysis import figures, splits
from dsd.analysis.candidates import (
    Candidate,
    default_candidates,
    design_arrays,
    parse_constraints,
    read_candidates,
)
from dsd.analysis.commands import Output
from dsd.analysis.data import ERROR, Results, regime_range
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
from dsd.analysis.stats import ALPHA, DIFFERENCE, POWER, edf, ks_models_needed, ks_power
from dsd.analysis.tables import complexity_text
from dsd.errors import DsdError
from dsd.io import check_not_an_input, check_output_path, distinct_inputs, write_table
from dsd.spaces import Constraints, Space, load_space, write_space
from dsd.spaces.loader import check_name


@dataclass(frozen=True)
class RefineOptions:
    """Every setting of :func:`refine` (validated here); ``tolerance``: the largest difference of
    the 25th percentile (fractions) that counts as "no loss"."""

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
        self.loading()  # checks metric, filters, alpha, bins, reps, seed
        ok = math.isfinite(self.tolerance) and self.tolerance >= 0
        if not (ok and self.reps >= 10 and self.min_models >= 2 and 0 < self.power < 1):
            raise DsdError(
                "need tolerance >= 0, reps >= 10, min_models >= 2, 0 < power < 1; got "
                f"tolerance {self.tolerance:g}, reps {self.reps}, min_models {self.min_models}, "
                f"power {self.power:g}"
            )

    def loading(self) -> AnalysisOptions:
        """The analysis options that load the population (grouped by space)."""
        shared = ("metric", "filters", "bins", "reps", "seed", "alpha")
        return AnalysisOptions(**{k: getattr(self, k) for k in shared})


@dataclass(frozen=True, eq=False)
class Prepared:
    """A population ready for refinement: the drawn ``design`` and the :class:`Sample` of the
    models inside the normalisation range."""

    space: Space
    population: Population
    design: dict[str, np.ndarray]
    sample: splits.Sample
    range_source: str


def refine(
    results: Results | Populations,
    space: str | os.PathLike | Space,
    options: RefineOptions | None = None,
    *,
    candidates: Sequence[Candidate] | None = None,
    extra: Sequence[Candidate] = (),
    **changes,
) -> pd.DataFrame:
    """Test refinements of ``space`` on a population; one row a split, best first.

    ``changes`` (such as ``alpha=0.01``) replace ``options``; ``candidates`` replaces the defaults,
    ``extra`` adds to them; ``table.attrs`` records the settings and the population's ledger.
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
    groups, left_out = splits.group_splits(cands, [c.holds(sp, prep.design) for c in cands])
    rows, masks, size = [], [], sp.size
    for split in groups:
        split, stats = splits.measure_split(split, sample)
        c = split.candidate
        share = sp.with_constraints(c.constraints).size / size if size else math.nan
        row = {"candidate": c.name, "kind": c.kind, "constraints": c.text, "merged": split.merged}
        rows.append({**row, "share_space": share, **stats})
        masks.append(split.inside)
    levels = splits.Levels(options.alpha, options.tolerance, options.power, options.min_models)
    table = pd.DataFrame(rows).assign(_i=range(len(rows)))
    table = splits.order(splits.judge(table, sample.n, levels))
    masks = [masks[i] for i in table["_i"]]
    table["explained_by"] = splits.explanations(table, masks, sample, levels)
    table = splits.order(table)[COLUMNS]
    merged = len(cands) - left_out - len(groups)
    counts = {"candidates": len(cands), "merged": merged, "left_out": left_out}
    table.attrs.update(_attrs(prep, options, counts, int(table["p"].notna().sum())))
    return table


#: The table's columns, in order.
COLUMNS = (
    "candidate verdict explained_by D p_adj p_noloss_adj diff ci_low ci_high n_in n_out "
    "share_space share_pop D_whole p p_noloss se stat_in stat_out bins m_eff power n_needed "
    "kind merged constraints"
).split()


def _attrs(prep: Prepared, o: RefineOptions, counts: dict[str, int], tests: int) -> dict:
    """The settings and the population a table was made with (JSON values)."""
    ledger = prep.population.ledger
    return {
        **dataclasses.asdict(o),
        **counts,
        "correction": splits.CORRECTION,
        "n": prep.sample.n,
        "tests": tests,
        "ledger": {"read": ledger.read, "used": ledger.used, "excluded": dict(ledger.excluded)},
        "outside_range": ledger.used - prep.sample.n,
        "regime": list(prep.sample.range),
        "regime_source": prep.range_source,
        "statistic": f"q{int(splits.QUANTILE * 100)} of the flops-normalised error EDF",
        "space": prep.space.name,
        "space_source": prep.space.source,
        "space_size": prep.space.size,
    }


#: The most bootstrap cells (draws x models) refine holds at once (8 bytes each).
MAX_CELLS = 1 << 26


def prepare(
    results: Results | Populations, space: str | os.PathLike | Space, o: RefineOptions
) -> Prepared:
    """The rows of ``space`` in ``results`` inside the normalisation range (the regime column's,
    else the population's min..max), as :func:`refine` tests them."""
    sp = space if isinstance(space, Space) else load_space(space)
    pop = population_of(results, sp, o)
    df = pop.rows
    if "flops" not in df.columns:
        raise DsdError("results have no 'flops' column (needed to normalise the EDFs)")
    design = design_arrays(df, sp)
    c = pd.to_numeric(df["flops"], errors="coerce").to_numpy(dtype=float)
    regime = regime_range(df)
    finite = c[np.isfinite(c)]
    if not (regime or finite.size):
        raise DsdError(f"{sp.name}: no model has a finite flops value (to normalise the EDFs)")
    lo_hi = regime or (float(finite.min()), float(finite.max()))
    if not lo_hi[1] > lo_hi[0]:
        lo_hi = (lo_hi[0] - 0.5, lo_hi[0] + 0.5)
    inside = np.isfinite(c) & (c >= lo_hi[0]) & (c <= lo_hi[1])
    e = pop.errors[inside]
    if e.size < 4:
        raise DsdError(
            f"{sp.name}: only {e.size} models with a finite {o.metric} and flops in "
            f"[{lo_hi[0]:.4g}, {lo_hi[1]:.4g}]; refine needs a population"
        )
    if o.reps * e.size > MAX_CELLS:
        raise DsdError(
            f"--reps {o.reps} with {e.size} models needs {o.reps * e.size:,} bootstrap cells, "
            f"more than {MAX_CELLS:,}: use --reps {MAX_CELLS // e.size} or fewer"
        )
    sample = splits.Sample.of(e, c[inside], lo_hi, o.bins, o.reps, o.seed)
    source = "regime column" if regime else "population min..max"
    return Prepared(sp, pop, {k: v[inside] for k, v in design.items()}, sample, source)


def population_of(results: Results | Populations, space: Space, o: RefineOptions) -> Population:
    """The population of ``space`` in ``results`` (by their ``space`` column), with its ledger."""
    pops = results
    if not (isinstance(results, Populations) and results.options.by == "space"):
        rows = results.rows if isinstance(results, Populations) else results
        pops = load_populations(rows, o.loading())
    if space.name not in pops:
        present = ", ".join(f"{ledger.used} of {name}" for name, ledger in pops.ledgers.items())
        raise DsdError(
            f"no rows of space {space.name!r} in the results (rows used: {present}); refine a "
            "population with the space it was sampled from"
        )
    return pops[space.name]


def chosen(table: pd.DataFrame, only_improving: bool = False) -> pd.DataFrame:
    """The refinements to write: the best unexplained ``improves`` and, unless ``only_improving``,
    the compatible structural ``no loss`` ones (each tested alone, not their combination)."""
    picks: list[int] = []
    used: set[str] = set()
    verdict = table["verdict"]
    explained = table.get("explained_by", pd.Series("", index=table.index)).fillna("") != ""
    order = list(table.index[(verdict == "improves") & ~explained][:1])
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
    """Write the next space (``space`` and what :func:`chosen` picks, with their evidence) to
    ``out_path``; None (nothing written) when no candidate qualifies."""
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
        f"{a.get('correction', splits.CORRECTION)}-adjusted p over {a.get('tests', '?')} tests;",
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


def format_table(table: pd.DataFrame, top: int = 20) -> str:
    """The candidate table as text (errors in percent), ``top`` rows, with a header of settings."""
    t = table.head(top)
    shown = pd.DataFrame(
        {
            "candidate": t["candidate"],
            "verdict": [
                f"{v} (explained by {x})" if x else v
                for v, x in zip(t["verdict"], t["explained_by"], strict=True)
            ],
            "D": t["D"].map(lambda v: f"{v:.3f}"),
            "p_adj": t["p_adj"].map(lambda v: f"{v:.2g}"),
            "p_noloss": t["p_noloss_adj"].map(lambda v: f"{v:.2g}"),
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
    return "\n".join([*summary(table, len(t)), shown.to_string(index=False)])


def summary(table: pd.DataFrame, shown: int | None = None) -> list[str]:
    """Two lines: the population and settings; the candidates, splits, tests and verdicts."""
    a, counts = table.attrs, table["verdict"].value_counts()
    ledger, metric = a["ledger"], a["metric"]
    rows = f"{ledger['read']} rows read, {ledger['used']} used"
    if ledger["excluded"]:
        reasons = [f"{n} {r.replace('metric', metric)}" for r, n in ledger["excluded"].items()]
        rows += f"; excluded: {', '.join(reasons)}"
    if a["outside_range"]:
        rows += f"; {a['outside_range']} outside the flops range"
    lo, hi = (complexity_text(x) for x in a["regime"])
    verdicts = [f"{v}: {counts.get(v, 0)}" for v in splits.VERDICTS]
    explained = int((table["explained_by"] != "").sum())
    if explained:
        verdicts[0] += f" ({explained} explained by a stronger candidate)"
    if shown is not None and shown < len(table):
        verdicts[-1] += f" (showing {shown} of {len(table)})"
    return [
        f"{a['space']}: {a['n']} models tested, metric {metric} ({rows}); KS on flops-normalised "
        f"EDFs over {lo}..{hi} ({a['regime_source']}); q25 interval: {a['reps']} bootstrap "
        f"draws, 95%; 'no loss': q25 worse by less than {100 * a['tolerance']:g}%",
        f"{a['candidates']} candidates: {len(table)} splits ({a['merged']} merged as "
        f"complements or duplicates, {a['left_out']} ranges left out: every model or none on a "
        f"side), {a['tests']} tested at level {a['alpha']:g} ({a['correction']}); "
        + ", ".join(verdicts),
    ]


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
        f"  among {k} tests (Bonferroni {alpha:g}/{k}): {many}.",
        f"  this population (n={n}) split half/half has power {half:.2f} to see D = "
        f"{DIFFERENCE:g} among {k} tests",
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
    """The refinement section of a report: the table and the ``top`` candidates' two sides."""
    a = table.attrs
    shown = table.drop(columns=["constraints"])
    percent = ["diff", "ci_low", "ci_high", "stat_in", "stat_out", "share_space"]
    shown[percent] = 100 * shown[percent]
    parts = [
        note(
            f"{a['n']} models of {prep.space.name}, metric {a['metric']} (errors in %). Each "
            "split compares the models that satisfy a candidate (in) with the rest (out) on "
            "flops-normalised EDFs: KS D and its p adjusted by "
            f"{a['correction']} over the {a['tests']} tests (improves / hurts: p_adj < "
            f"{a['alpha']:g} and the 95% bootstrap interval of the 25th percentile's difference "
            "in - out below / above 0); no loss: the non-inferiority test of 'in is worse by at "
            f"least {100 * a['tolerance']:g}%' rejected (p_noloss_adj < {a['alpha']:g}, same "
            "adjustment); explained_by: a stronger candidate within whose sides the effect "
            "disappears; merged: candidates that make the same split (or its complement); "
            "share_space: the exact share of the space kept (%); n_needed: models that would "
            "resolve the observed D."
        ),
        note(" ".join(summary(table))),
        table_html(shown, "{:.3g}"),
        note(sample_size_note(table)),
    ]
    parts += [_sides_figure(r, prep, seed) for r in table.head(top).itertuples() if r.bins]
    return section(f"Refinement candidates: {prep.space.name}", *parts)


def _sides_figure(r, prep: Prepared, seed: int) -> str:
    """The normalised EDFs of a candidate's two sides, as an inline image."""
    cand = Candidate(r.candidate, r.kind, parse_constraints(r.constraints))
    inside, s = cand.holds(prep.space, prep.design), prep.sample
    (w_in, w_out), b = s.weights([inside, ~inside])
    ax = figures.plot_edfs(
        {f"in: {r.candidate}": edf(s.errors[inside], w_in), "out": edf(s.errors[~inside], w_out)},
        bands="dkw",
        normalised=b > 1,
        seed=seed,
        title=f"{r.candidate}: {r.verdict} (D={r.D:.3f}, p_adj={r.p_adj:.2g}, {b} flop bins)",
    )
    return figure_html(ax, r.candidate)


def refinement_sections(pops: Populations, space: str | os.PathLike | Space) -> list[str]:
    """The section of ``dsd report --refine SPACE`` (the report's metric, filters, level, seed)."""
    o = pops.options
    options = RefineOptions(metric=o.metric, filters=o.filters, alpha=o.alpha, seed=o.seed)
    prep = prepare(pops, space, options)
    return [refine_section(tabulate(prep, options), prep, seed=o.seed)]


@dataclass(frozen=True)
class RefineRequest:
    """What ``dsd refine`` is asked for: inputs, files to write and the ``top`` rows to print."""

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
    """``dsd refine`` (outputs checked before any work): what to print and the exit code."""
    r = request
    out = check_output_path(r.output, (".yaml", ".yml")) if r.output else None
    if out:
        check_name(str(out), out.stem, builtin=False)  # the next space is named by its file
    table_out = check_output_path(r.table) if r.table else None
    report = check_report_path(r.report) if r.report else None
    space = load_space(r.space)
    inputs = [*r.results, *filter(None, (space.source, r.candidates))]
    outputs = [p for p in (out, table_out, report) if p is not None]
    distinct_inputs(outputs)
    for p in outputs:
        check_not_an_input(p, inputs)
    extra = read_candidates(r.candidates, space) if r.candidates else []
    if r.no_defaults and not extra:
        raise DsdError("--no-defaults needs --candidates FILE")
    prep = prepare(list(r.results), space, options)
    cands, extra = (extra, []) if r.no_defaults else (None, extra)
    table = tabulate(prep, options, cands, extra)
    text = [format_table(table, r.top), "", sample_size_note(table)]
    notes = [f"{space.name}: {prep.population.ledger.describe(options.metric)}"]
    written = _write_next(table, space, out, r) if out else None  # first: it checks its name
    if out and written is None:
        notes.append(
            f"no candidate improves or is a no-loss simplification: nothing written to {out} "
            "(exit code 1)"
        )
    if table_out:
        write_table(table, table_out)
    if report:
        body = [refine_section(table, prep)]
        write_page(report, page(f"dsd refine: {space.name}", body))
        text.append(f"report -> {report}")
    text += [written] if written else []
    return Output("\n".join(text), tuple(notes)), int(bool(out) and written is None)


def _write_next(table: pd.DataFrame, space: Space, out: Path, r: RefineRequest) -> str | None:
    """Write the next space; the line that says what was written (None: nothing qualified)."""
    sources = ", ".join(map(str, r.results))
    written = write_refined_space(
        table, space, out, only_improving=r.only_improving, sources=sources
    )
    if written is None:
        return None
    picks = chosen(table, r.only_improving)
    size = load_space(written).size
    return (
        f"refined space -> {written} (adds: {'; '.join(picks['candidate'])}; "
        f"exact size {size:,} = {size:.2e}, {100 * size / space.size:.3g}% of {space.name})"
    )
