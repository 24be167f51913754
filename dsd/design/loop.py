"""The design loop: replay a chain of spaces, or discover one, every step judged on fresh models."""

from __future__ import annotations

import dataclasses
import json
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dsd.analysis import ALPHA, RefineOptions, refine
from dsd.analysis.candidates import parse_constraints
from dsd.design.compare import compare, power_line, write_outputs
from dsd.design.folder import DesignFolder
from dsd.errors import DataError, DsdError
from dsd.io import read_table
from dsd.spaces import Space, load_space, write_space
from dsd.sweep import (
    Experiment,
    SweepOptions,
    TorchTrainer,
    check_sweep,
    estimate_cost,
    local_settings,
    run_sweep,
)
from dsd.sweep.status import duration

#: What a "no loss" step may add (a range that loses nothing only narrows where the population was).
SIMPLIFICATIONS = ("shared", "non_decreasing", "non_increasing")
MAX_STEPS = 50  # each confirmation is at alpha / (steps x tries): more would leave no power
MAX_TRIES = len(string.ascii_lowercase)


@dataclass(frozen=True)
class DesignOptions:
    """How a design runs. ``alpha``: the error rate of the verdicts (per step for a replay, over
    the chain for a discovery when ``chain_wise``); ``tolerance``, ``reps``, ``bins``, ``seed``,
    ``min_models`` as :class:`dsd.analysis.RefineOptions`; ``explore_alpha``: the exploration's
    level (default ``alpha``; it only chooses what to confirm); ``command`` resumes the design;
    ``say`` is told what happens."""

    sweep: SweepOptions
    alpha: float = ALPHA
    tolerance: float = 0.01
    steps: int = 3
    tries: int = 3
    reps: int = 1000
    bins: int = 10
    seed: int = 0
    min_models: int = 10
    chain_wise: bool = True
    explore_alpha: float | None = None
    report: bool = True
    command: str = ""
    say: Callable[[str], None] = field(default=lambda line: None)

    def __post_init__(self):
        self.check(self.alpha, self.steps, self.tries)
        self.refining()  # tolerance, reps, bins, min_models: one line for a bad value

    @staticmethod
    def check(alpha: float, steps: int, tries: int) -> None:
        """DsdError unless 0 < alpha < 1 and steps and tries are in range (before any work)."""
        if not (0 < alpha < 1 and 1 <= steps <= MAX_STEPS and 1 <= tries <= MAX_TRIES):
            raise DsdError(
                f"need 0 < alpha < 1, steps from 1 to {MAX_STEPS} and tries from 1 to "
                f"{MAX_TRIES}, got alpha {alpha}, steps {steps}, tries {tries}"
            )

    def refining(self, alpha: float | None = None) -> RefineOptions:
        """The refine options of the exploration (at ``alpha``, default this one's)."""
        keep = ("tolerance", "reps", "bins", "seed", "min_models")
        return RefineOptions(alpha=alpha or self.alpha, **{k: getattr(self, k) for k in keep})

    def confirmation_level(self) -> float:
        """The level of each confirmation of a discovery."""
        return self.alpha / (self.steps * self.tries) if self.chain_wise else self.alpha


@dataclass(frozen=True)
class DesignSummary:
    """What a design left behind: the chain table and the report."""

    folder: DesignFolder
    chain: pd.DataFrame
    report: Path | None

    def describe(self) -> str:
        """The chain, one line a step, and where the files are."""
        lines = [f"{self.folder.root}: {len(self.chain)} step(s)"]
        for r in self.chain.itertuples():
            paper = f"  (paper: {r.paper_verdict})" if r.paper_verdict else ""
            added = f" ({r.candidate})" if r.candidate else ""
            lines.append(
                f"  {r.step}. {r.parent} -> {r.child}{added}: {r.verdict}{paper}  D={r.D:.3f} "
                f"p={r.p:.3g} q25 diff {100 * r.diff:+.2f}%"
            )
        lines.append(f"  chain:   {self.folder.chain}")
        if self.report:
            lines.append(f"  report:  {self.report}")
        return "\n".join(lines)


def _plan(what: str, exp: Experiment, o: DesignOptions, **extra) -> dict:
    """What a design folder is for: a resumed command must give the same."""
    fingerprint = {k: v for k, v in exp.fingerprint().items() if k != "spaces"}
    settings = "alpha tolerance reps bins seed min_models chain_wise explore_alpha".split()
    return {
        "what": what,
        "command": o.command,
        "models": exp.n * len(o.sweep.seeds),
        "experiment": exp.name,
        "fingerprint": json.loads(json.dumps(fingerprint, default=list)),
        **{k: getattr(o, k) for k in settings},
        **extra,
    }


def _sweep_of(exp: Experiment, space: Space, o: DesignOptions) -> SweepOptions:
    """The sweep options of ``space``'s population (its experiment has that one space)."""
    sub = dataclasses.replace(exp, spaces=(space.name,))
    return dataclasses.replace(o.sweep, experiment=sub, resume=o.command or o.sweep.resume)


def _samples(exp: Experiment, space: Space, folder: DesignFolder) -> pd.DataFrame:
    """The population's samples: stored ones on a resume, else drawn (deterministic)."""
    try:
        return folder.population(space.name).read_samples()
    except DataError:
        return exp.sample([space])


def train(exp: Experiment, space: Space, folder: DesignFolder, o: DesignOptions) -> pd.DataFrame:
    """Train (or resume) the population of ``space`` in its run folder; its results."""
    run = folder.population(space.name)
    o.say(f"population {space.name}: {run.root}")
    summary = run_sweep(_samples(exp, space, folder), run, _sweep_of(exp, space, o))
    return read_table(summary.results) if summary.results else pd.DataFrame()


def _open(exp: Experiment, space: Space, out, o: DesignOptions, plan: dict, populations: int):
    """The design folder at ``out``, checked for ``plan`` and the first sweep before anything is
    created; then the cost of ``populations`` populations like the first (trained here)."""
    folder = DesignFolder.at(out)
    folder.check_plan(plan)
    samples = _samples(exp, space, folder)
    sweep = _sweep_of(exp, space, o)
    check_sweep(samples, folder.population(space.name), sweep)
    trainer = sweep.trainer
    if isinstance(trainer, TorchTrainer) and not sweep.engine:
        here = sweep.executor.kind == "local"
        settings = local_settings(sweep.executor)  # a cluster's cost as if it ran here
        est = estimate_cost(samples, trainer.config, settings, seeds=len(sweep.seeds))
        o.say(f"first population: {est.describe()}")
        o.say(
            f"the design trains at most {populations} populations like it: about "
            f"{duration(est.seconds * populations)}"
            + ("" if here else f" here (with {sweep.executor.kind}: divide by the models at once)")
        )
    return folder


def replay_chain(
    exp: Experiment, chain: Sequence[str], out: str | Path, options: DesignOptions
) -> DesignSummary:
    """Replay ``chain`` (parent first) into ``out``: each child judged against its parent."""
    spaces = [load_space(s) for s in chain]
    names = [s.name for s in spaces]
    if len(spaces) < 2 or len(set(names)) < len(names):
        raise DsdError(f"--chain needs two or more distinct spaces, got {', '.join(names)}")
    plan = _plan("replay " + ",".join(names), exp, options, chain=names, steps=len(names) - 1)
    plan["populations"] = names
    folder = _open(exp, spaces[0], out, options, plan, len(spaces))
    options.say(power_line(exp, options.alpha, "each step"))
    with folder.started(plan):
        results = [train(exp, sp, folder, options) for sp in spaces]
        rows, drawn = [], []
        for k in range(1, len(spaces)):
            row, d = compare(
                results[k], results[k - 1], spaces[k], spaces[k - 1],
                level=options.alpha, options=options.refining(),
            )  # fmt: skip
            row["step"] = k
            rows.append(row)
            drawn.append(d)
            folder.write_step(k, {"summary": _said(row), "row": row})
        words = (
            f"Each step is one test at level {options.alpha:g} (its own error rate: the steps "
            "are the paper's, chosen before any model trained; p is shown for any other "
            "correction)."
        )
        outputs = write_outputs(folder, rows, drawn, results, spaces, exp, options, words, "replay")
        return DesignSummary(folder, *outputs)


def _said(row: dict) -> str:
    """A step in a few words."""
    paper = f" (paper: {row['paper_verdict']})" if row.get("paper_verdict") else ""
    return f"{row['parent']} -> {row['child']}: {row['verdict']}{paper}, D={row['D']:.3f}"


def discover_chain(
    exp: Experiment, start: str, out: str | Path, options: DesignOptions
) -> DesignSummary:
    """Discover a chain from ``start`` into ``out``: each step refines the current population
    and is accepted only if a fresh population of the candidate confirms it."""
    space = load_space(start)
    plan = _plan(f"discovery from {space.name}", exp, options, start=space.name)
    plan.update(steps=options.steps, tries=options.tries, populations=[space.name])
    folder = _open(exp, space, out, options, plan, 1 + options.steps * options.tries)
    level = options.confirmation_level()
    options.say(power_line(exp, level, "each confirmation"))
    with folder.started(plan):
        spaces, results, rows, drawn = [space], [train(exp, space, folder, options)], [], []
        for k in range(1, options.steps + 1):
            found = _step(k, spaces[-1], results[-1], exp, folder, options, level)
            if found is None:
                break
            child, child_results, row, design = found
            spaces.append(child)
            results.append(child_results)
            rows.append(row)
            drawn.append(design)
        words = _discovery_words(options, level)
        outputs = write_outputs(
            folder, rows, drawn, results, spaces, exp, options, words, "discovery"
        )
        return DesignSummary(folder, *outputs)


def _discovery_words(o: DesignOptions, level: float) -> str:
    """How a discovery's error rate is controlled, in words."""
    if not o.chain_wise:
        return f"Each confirmation is one test at level {level:.3g} (per confirmation)."
    return (
        f"Each confirmation is one test at level {level:.3g} = {o.alpha:g} / ({o.steps} steps x "
        f"{o.tries} tries): by Bonferroni, the chance that any accepted step of the chain is a "
        f"false 'improves' or a false 'no loss' is at most {o.alpha:g}."
    )


def _candidates(table: pd.DataFrame, tries: int) -> list[dict]:
    """The candidates a step tries: improvements in refine's order, then no-loss
    simplifications; none that keeps the whole space."""
    v = table["verdict"]
    noloss = table[(v == "no loss") & table["kind"].isin(SIMPLIFICATIONS)]
    picks = pd.concat([table[v == "improves"], noloss])
    picks = picks[picks["share_space"] < 1].head(tries)
    keep = ("candidate", "verdict", "kind", "constraints", "D", "p_adj", "diff", "share_space")
    return [{k: r[k] for k in keep} for r in picks.to_dict(orient="records")]


def _choices(k: int, current: Space, rows: pd.DataFrame, folder: DesignFolder, o: DesignOptions):
    """The step's record: read back on a resume, else made (refine the current population)."""
    doc = folder.read_step(k)
    if doc is not None and doc.get("parent") == current.name:
        return doc
    table = refine(rows, current, o.refining(o.explore_alpha))
    cands = _candidates(table, o.tries)
    listed = "; ".join(c["candidate"] for c in cands) or "none"
    summary = f"{current.name}: candidates {listed}"
    doc = {"step": k, "parent": current.name, "candidates": cands, "tries": [], "summary": summary}
    folder.write_step(k, doc)
    o.say(f"step {k}: {summary}")
    return doc


def _child(folder: DesignFolder, name: str, parent: Space, cand: dict, k: int) -> Space:
    """The refined space of a try: its file, written once (a resume loads it)."""
    path = folder.space_file(name)
    if path.exists():
        return load_space(path)
    folder.spaces.mkdir(parents=True, exist_ok=True)
    notes = [
        f"written by dsd design, step {k}: {parent.name} + {cand['candidate']}",
        f"exploration: {cand['verdict']} (D={cand['D']:.3f}, p_adj={cand['p_adj']:.3g}); "
        "confirmed or not on a fresh population: see steps/ and chain.csv",
    ]
    return write_space(
        path,
        name=name,
        extends=parent,
        description=f"{parent.name} + {cand['candidate']}",
        constraints=parse_constraints(cand["constraints"], str(path)),
        notes=notes,
    )


def _step(k, current: Space, rows: pd.DataFrame, exp, folder: DesignFolder, o, level: float):
    """Step ``k``'s tries until one is confirmed: (child, its results, row, panel), or None."""
    doc = _choices(k, current, rows, folder, o)
    root = folder.read_plan()["start"]
    for t, cand in enumerate(doc["candidates"]):
        tried = doc["tries"][t] if t < len(doc["tries"]) else None
        if tried is not None and not tried["accepted"]:
            continue
        child = _child(folder, f"{root}-{k}{string.ascii_lowercase[t]}", current, cand, k)
        child_rows = train(exp, child, folder, o)
        row, drawn = compare(
            child_rows, rows, child, current, level=level, options=o.refining(level)
        )
        row.update(step=k, candidate=cand["candidate"])
        if tried is None:
            accepted = row["verdict"] in ("improves", "no loss")
            doc["tries"].append(
                {"space": child.name, "verdict": row["verdict"], "accepted": accepted}
            )
            doc["summary"] = f"{current.name} + {cand['candidate']}: {row['verdict']} " + (
                "(accepted)" if accepted else "(not accepted)"
            )
            folder.write_step(k, doc)
            o.say(f"step {k}: {doc['summary']}")
        row["verdict"] = doc["tries"][t]["verdict"]  # the recorded decision
        if doc["tries"][t]["accepted"]:
            return child, child_rows, row, drawn
    if not doc.get("stopped"):
        doc.update(stopped=True, summary=doc["summary"] + "; stop: no candidate confirmed")
        folder.write_step(k, doc)
    return None
