"""Refining a design space from one population: the paper's design loop, automated (``dsd refine``).

In DDS a person looks at the EDFs of a population and picks the next constraint (share b, share
g, non-decreasing widths and depths, parameter ranges). Every such refinement is a predicate on the
*drawn* design, and a population already holds models that satisfy it and models that do not.
:func:`refine` generates candidates from the space's declaration, tests each one on the population
itself and returns a table, best first; :func:`write_refined_space` writes the next space.

For each candidate, the models that satisfy it (``in``) are compared with the rest (``out``):

- EDFs normalised by flops as in NDS (shared bin edges over the population's regime; the number
  of bins is the largest up to ``bins`` that leaves no bin of either side empty; 1 bin = plain);
- KS distance ``D`` between ``in`` and ``out`` (and ``D_whole`` between ``in`` and the whole
  population), its p-value (:func:`dsd.analysis.stats.ks`), and the p-values adjusted for the
  many candidates with **Benjamini-Hochberg** (``scipy.stats.false_discovery_control``);
- the difference ``in - out`` of the normalised EDF's 25th percentile (a robust "how good are the
  good models" statistic), with a percentile bootstrap interval (resamples of the whole population,
  drawn once and shared by all candidates, each split into its two sides; NDS weights kept);
- the exact share of the *space* kept (from exact sizes, :attr:`dsd.spaces.Space.size`) and the
  share and number of models behind each side.

Verdicts (``alpha`` the level, ``tolerance`` the largest difference of the 25th percentile that
counts as "the same"):

- ``improves``: adjusted p < alpha and the interval lies below 0;
- ``hurts``: adjusted p < alpha and the interval lies above 0;
- ``no loss``: not significant, and the interval's upper end <= ``tolerance`` (the paper's
  XA -> XC kind: a smaller space, the same EDF within the interval). This is a one-sided
  non-inferiority check at 97.5%, per candidate: unlike ``improves`` it is not corrected for
  the many candidates;
- ``inconclusive``: anything else, or fewer than ``min_models`` on a side; ``n_needed`` says
  how many models the population would need to resolve the observed D (:func:`ks_sample_size`).

Sample size (NDS): with effective size ``m = n1 n2 / (n1 + n2)`` the KS test at level ``a``
rejects when ``D > c_a / sqrt(m)``, ``c_a`` the Kolmogorov quantile. The EDF at the point of the
largest difference has standard deviation at most ``0.5 / sqrt(m)``, so a true difference ``D`` is
detected with power at least ``1 - beta`` when ``sqrt(m) >= (c_a + z_{1-beta} / 2) / D``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from dsd.analysis import figures
from dsd.analysis.data import ERROR, _stack, load_results, regime_range
from dsd.analysis.page import CSS, check_report_path, figure_html, table_html
from dsd.analysis.page import note as _note
from dsd.analysis.page import section as _section
from dsd.analysis.stats import complexity_weights, edf, kish_size, ks
from dsd.errors import DsdError
from dsd.io import atomic_path, check_output_path, load_yaml
from dsd.schema import DESIGN_COLUMNS, PARAMETERS
from dsd.spaces import Constraints, Space, load_space
from dsd.spaces.loader import builtin_dir

VERDICTS = ("improves", "no loss", "inconclusive", "hurts")
CORRECTION = "Benjamini-Hochberg"
QUANTILE = 0.25
PLURAL = {
    "depth": "depths",
    "width": "widths",
    "bottleneck_ratio": "bottleneck ratios",
    "group_width": "group widths",
}


# --- candidates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One refinement: a ``name`` and its constraints in the space-file syntax, as JSON text.

    ``constraints`` is e.g. ``'{"non_decreasing": ["width"]}'`` or ``'{"ranges": {"d": [null,
    20]}}'``; ``kind`` is ``shared``, ``non_decreasing``, ``non_increasing``, ``range`` or
    ``user``.
    """

    name: str
    kind: str
    constraints: str

    @property
    def mapping(self) -> dict[str, Any]:
        """The constraints as a mapping."""
        return json.loads(self.constraints)

    @classmethod
    def of(cls, name: str, kind: str, constraints: Mapping[str, Any]) -> Candidate:
        """A candidate from a constraints mapping."""
        return cls(name, kind, json.dumps(constraints, sort_keys=True))


def _candidate_space(space: Space, constraints: Mapping[str, Any]) -> Space:
    """``space`` with ``constraints`` added (validated as a space file's would be)."""
    return space.with_constraints(constraints)


def holds(candidate: Candidate, design: Mapping[str, np.ndarray], space: Space) -> np.ndarray:
    """Which drawn designs satisfy ``candidate`` (bool array)."""
    return space.satisfies(design, Constraints.parse(candidate.mapping, space.source or space.name))


def design_arrays(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """The drawn design of each row: per-stage arrays (models x stages) and RegNet scalars."""
    missing = [c for c in DESIGN_COLUMNS if c not in df.columns]
    if missing:
        raise DsdError(f"results have no design column(s) {', '.join(missing)}")
    out = {c: _stack(df[c]) for c in DESIGN_COLUMNS}
    for c in ("depth", "w0", "wa", "wm", "bottleneck_ratio", "group_width"):
        if c in df.columns:
            out[c] = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
    return out


def default_candidates(
    space: Space, design: Mapping[str, np.ndarray], quantiles: Sequence[float] = (0.25, 0.5, 0.75)
) -> list[Candidate]:
    """The paper's kinds of refinement, from the space's declaration and the population.

    AnyNet: share b, share g; non-decreasing and (as a control) non-increasing widths, depths, b, g;
    one-sided ranges (``<=`` and ``>=``) on total depth ``d`` and on each stage's parameters at the
    population's quantiles. RegNet: one-sided ranges on d, w0, wa, wm, b, g. Parameters with one
    value, and constraints the space already has, are skipped.
    """
    out: list[Candidate] = []
    if space.kind == "anynet":
        free = [k for k, p in space.parameters.items() if p.count() > 1]
        for p in ("bottleneck_ratio", "group_width"):
            if p in free and not space.constraints.rule(p):
                name = f"shared {p.replace('_', ' ')}"
                out.append(Candidate.of(name, "shared", {"shared": [p]}))
        for p in ("width", "depth", "bottleneck_ratio", "group_width"):
            if p not in free or space.constraints.rule(p) == "shared":
                continue
            if not space.constraints.rule(p):
                out.append(
                    Candidate.of(
                        f"non-decreasing {PLURAL[p]}", "non_decreasing", {"non_decreasing": [p]}
                    )
                )
                out.append(
                    Candidate.of(
                        f"non-increasing {PLURAL[p]}", "non_increasing", {"non_increasing": [p]}
                    )
                )
        names = ["d"]
        for p in free:
            short = PARAMETERS[p][0]
            shared = space.constraints.rule(p) == "shared"
            names += [p] if shared else [f"{short}{i + 1}" for i in range(space.stages)]
    else:
        names = [
            q
            for q in space.allowed.quantities
            if space.parameters["depth" if q == "d" else q].count() > 1
        ]
    for q in names:
        v = space.quantity(q, design)
        v = v[:, 0] if v.ndim == 2 else v
        v = v[np.isfinite(v)]
        if v.size == 0:
            continue
        for t in np.unique(np.quantile(v, quantiles, method="inverted_cdf")):
            t = float(t)
            out.append(Candidate.of(f"{q} <= {_num(t)}", "range", {"ranges": {q: [None, t]}}))
            out.append(Candidate.of(f"{q} >= {_num(t)}", "range", {"ranges": {q: [t, None]}}))
    return out


def read_candidates(path: str | os.PathLike, space: Space) -> list[Candidate]:
    """User candidates from a YAML file: a list under ``candidates:``, each a constraints mapping
    in the space-file syntax, optionally with a ``name``::

        candidates:
          - {name: shallow, ranges: {d: [null, 12]}}
          - {non_decreasing: [width, depth]}
    """
    p = Path(path)
    data = load_yaml(p)  # the limits and one-line errors of every user YAML file
    items = data.get("candidates") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise DsdError(f"{p}: expected a non-empty list under 'candidates:'")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise DsdError(f"{p}: candidates[{i}]: expected a mapping of constraints")
        c = {k: v for k, v in item.items() if k != "name"}
        if not c:
            raise DsdError(f"{p}: candidates[{i}]: no constraint given")
        _candidate_space(space, c)  # validates, naming the file
        name = item.get("name") or json.dumps(c, sort_keys=True)
        out.append(Candidate.of(str(name), "user", c))
    return out


def _num(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else f"{t:.4g}"


# --- statistics ---------------------------------------------------------------------------------


def ks_sample_size(d: float, alpha: float = 0.05, power: float = 0.8, tests: int = 1) -> float:
    """Effective size ``m = n1 n2 / (n1 + n2)`` at which a KS difference ``d`` is detected with at
    least ``power`` at level ``alpha / tests`` (Bonferroni): ``((c + z_power / 2) / d)**2``.

    Two populations of ``n`` models each have ``m = n / 2``, so each needs ``2 m`` models.
    """
    if not 0 < d <= 1:
        return math.inf
    c = float(sps.kstwobign.isf(alpha / max(tests, 1)))
    z = float(sps.norm.ppf(power))
    return ((c + z / 2) / d) ** 2


def resolvable_d(m: float, alpha: float = 0.05, power: float = 0.8, tests: int = 1) -> float:
    """The smallest KS difference detected with ``power`` at effective size ``m`` (inverse of
    :func:`ks_sample_size`)."""
    if m <= 0:
        return math.inf
    c = float(sps.kstwobign.isf(alpha / max(tests, 1)))
    return (c + float(sps.norm.ppf(power)) / 2) / math.sqrt(m)


def _weights(c: np.ndarray, sides: Sequence[np.ndarray], bins: int, rng_: tuple[float, float]):
    """Per side NDS weights (:func:`~dsd.analysis.stats.complexity_weights`) over shared bins: the
    largest bin count <= ``bins`` with no empty bin on either side (1 = plain). Returns (weights
    per side, bins used)."""
    for b in range(max(bins, 1), 0, -1):
        try:
            return [complexity_weights(c[s], b, rng_) for s in sides], b
        except DsdError:  # an empty bin on one side: try fewer
            continue
    return [np.full(int(s.sum()), 1.0 / max(int(s.sum()), 1)) for s in sides], 1


@dataclass(frozen=True, eq=False)
class _Resamples:
    """``reps`` bootstrap resamples of the whole population, drawn once and shared by every
    candidate: ``counts[r, i]`` = copies of model ``order[i]`` (models sorted by error) in
    resample ``r``. A candidate's two sides are the restrictions of each resample, so the side
    sizes vary between resamples as they do between populations."""

    order: np.ndarray
    counts: np.ndarray

    @classmethod
    def draw(cls, e: np.ndarray, reps: int, rng: np.random.Generator) -> _Resamples:
        n = e.size
        order = np.argsort(e, kind="stable")
        idx = rng.integers(0, n, size=(reps, n))
        flat = (np.arange(reps)[:, None] * n + idx).ravel()
        counts = np.bincount(flat, minlength=reps * n).reshape(reps, n).astype(np.float64)
        return cls(order, counts)

    def quantile(self, e: np.ndarray, side: np.ndarray, w: np.ndarray, q: float) -> np.ndarray:
        """The weighted ``q``-quantile of the side ``side`` (bool mask over the models, ``w`` the
        weights of its models in model order) in every resample; NaN where a resample has none."""
        pos = np.flatnonzero(side[self.order])  # columns of this side, ascending error
        ws = np.zeros(side.size)
        ws[side] = w
        ws = ws[self.order][pos]
        es = e[self.order][pos]
        cw = self.counts[:, pos] * ws
        tot = cw.sum(axis=1)
        # Only the first columns are summed: those holding q (+ margin) of the side's weight.
        share = np.cumsum(ws) / ws.sum()
        k = min(pos.size, int(np.searchsorted(share, min(1.0, 2 * q + 0.1))) + 1)
        cum = np.cumsum(cw[:, :k], axis=1)
        target = q * tot * (1 - 1e-12)
        hit = cum >= target[:, None]
        found = hit.any(axis=1)
        j = np.argmax(hit, axis=1)
        if not found.all():
            rest = np.flatnonzero(~found)
            j[rest] = np.argmax(np.cumsum(cw[rest], axis=1) >= target[rest, None], axis=1)
        return np.where(tot > 0, es[j], np.nan)


def _population(
    results, space: Space, metric: str, filters: Iterable[str]
) -> tuple[pd.DataFrame, tuple[float, float] | None]:
    df = load_results(results, filters)
    if metric not in df.columns:
        raise DsdError(f"no column {metric!r} in the results (the error metric)")
    df = df[np.isfinite(pd.to_numeric(df[metric], errors="coerce"))]
    if "space" in df.columns:
        mine = df[df["space"].astype(str) == space.name]
        if len(mine) == 0 and df["space"].nunique() > 1:
            raise DsdError(
                f"no rows of space {space.name!r} in the results "
                f"(spaces: {', '.join(map(str, df['space'].unique()))})"
            )
        df = mine if len(mine) else df
    if len(df) < 4:
        raise DsdError(f"only {len(df)} models with a finite {metric}; refine needs a population")
    if "flops" not in df.columns:
        raise DsdError("results have no 'flops' column (needed to normalise the EDFs)")
    return df.reset_index(drop=True), regime_range(df)


def refine(
    results: pd.DataFrame | Sequence[str | os.PathLike] | str | os.PathLike,
    space: str | os.PathLike | Space,
    *,
    candidates: Sequence[Candidate] | None = None,
    extra: Sequence[Candidate] = (),
    metric: str = ERROR,
    filters: Iterable[str] = (),
    alpha: float = 0.05,
    tolerance: float = 0.01,
    bins: int = 10,
    reps: int = 1000,
    min_models: int = 10,
    power: float = 0.8,
    seed: int = 0,
) -> pd.DataFrame:
    """Test refinements of ``space`` on a population; one row a candidate, best first.

    ``results``: a DataFrame or results files (``status=ok`` rows, those of ``space`` when several
    spaces are present). ``candidates`` replaces :func:`default_candidates`; ``extra`` adds to them.
    ``tolerance`` is in error units (fractions, as ``metric``). See the module docstring for the
    columns' meaning. ``table.attrs`` records the settings (metric, correction, level, n, regime).
    """
    sp = space if isinstance(space, Space) else load_space(space)
    if not 0 < alpha < 1 or tolerance < 0 or reps < 10 or bins < 1 or min_models < 2:
        raise DsdError("need 0 < alpha < 1, tolerance >= 0, reps >= 10, bins >= 1, min_models >= 2")
    df, regime = _population(results, sp, metric, filters)
    design = design_arrays(df)
    e = pd.to_numeric(df[metric]).to_numpy(dtype=float)
    c = pd.to_numeric(df["flops"], errors="coerce").to_numpy(dtype=float)
    rng_ = regime or (float(np.nanmin(c)), float(np.nanmax(c)))
    if not rng_[1] > rng_[0]:
        rng_ = (rng_[0] - 0.5, rng_[0] + 0.5)
    inside = np.isfinite(c) & (c >= rng_[0]) & (c <= rng_[1])
    e, c = e[inside], c[inside]
    design = {k: v[inside] for k, v in design.items()}
    n = e.size
    cands = list(default_candidates(sp, design) if candidates is None else candidates) + list(extra)
    if not cands:
        raise DsdError(f"{sp.name}: no candidate refinements (every parameter is fixed)")
    size = sp.size
    boot = _Resamples.draw(e, reps, np.random.default_rng(seed))
    w_all = _weights(c, [np.ones(n, bool)], bins, rng_)[0][0]
    rows, seen = [], set()
    for cand in cands:
        m_in = holds(cand, design, sp)
        key = m_in.tobytes()
        if cand.kind == "range" and (key in seen or m_in.all() or not m_in.any()):
            continue
        seen.add(key)
        rows.append(_test(cand, sp, size, e, c, m_in, w_all, rng_, bins, boot))
    table = pd.DataFrame(rows)
    ok = table["D"].notna()
    table["p_adj"] = np.nan
    if ok.any():
        table.loc[ok, "p_adj"] = sps.false_discovery_control(table.loc[ok, "p"], method="bh")
    k = int(ok.sum())
    table["d_resolvable"] = [resolvable_d(m, alpha, power, k) for m in table["m_eff"]]
    table["n_needed"] = [
        math.ceil(n * ks_sample_size(d, alpha, power, k) / m) if m > 0 and d > 0 else math.inf
        for d, m in zip(table["D"].fillna(0), table["m_eff"], strict=True)
    ]
    table["verdict"] = [_verdict(r, alpha, tolerance, min_models) for r in table.itertuples()]
    table = _order(table)
    table.attrs.update(
        metric=metric,
        correction=CORRECTION,
        alpha=alpha,
        tolerance=tolerance,
        power=power,
        n=n,
        tests=k,
        regime=list(rng_),
        regime_source="regime column" if regime else "population min..max",
        statistic=f"q{int(QUANTILE * 100)} of the flops-normalised error EDF",
        space=sp.name,
        space_source=sp.source,
        space_size=size,
        reps=reps,
    )
    return table


def _test(cand, sp, size, e, c, m_in, w_all, rng_, bins, boot) -> dict[str, Any]:
    """The statistics of one candidate (see the module docstring)."""
    refined = _candidate_space(sp, cand.mapping)
    kept = refined.size / size if size else math.nan
    row: dict[str, Any] = {
        "candidate": cand.name,
        "kind": cand.kind,
        "n_in": int(m_in.sum()),
        "n_out": int((~m_in).sum()),
        "share_pop": float(m_in.mean()),
        "share_space": kept,
        "constraints": cand.constraints,
    }
    nan = dict.fromkeys(
        ("D", "D_whole", "p", "stat_in", "stat_out", "diff", "ci_low", "ci_high"), math.nan
    )
    if row["n_in"] < 2 or row["n_out"] < 2:
        return {**row, **nan, "bins": 0, "m_eff": 0.0}
    (w_in, w_out), b = _weights(c, [m_in, ~m_in], bins, rng_)
    e_in, e_out = e[m_in], e[~m_in]
    f_in, f_out = edf(e_in, w_in), edf(e_out, w_out)
    r = ks(f_in, f_out)
    s_in, s_out = f_in.quantile(QUANTILE), f_out.quantile(QUANTILE)
    diffs = boot.quantile(e, m_in, w_in, QUANTILE) - boot.quantile(e, ~m_in, w_out, QUANTILE)
    lo, hi = np.nanquantile(diffs, [0.025, 0.975])
    n1, n2 = kish_size(w_in), kish_size(w_out)
    return {
        **row,
        "D": r.statistic,
        "D_whole": ks(f_in, edf(e, w_all)).statistic,
        "p": r.pvalue,
        "stat_in": s_in,
        "stat_out": s_out,
        "diff": s_in - s_out,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "bins": b,
        "m_eff": n1 * n2 / (n1 + n2),
    }


def _verdict(r, alpha: float, tolerance: float, min_models: int) -> str:
    if min(r.n_in, r.n_out) < min_models or not np.isfinite(r.D):
        return "inconclusive"
    significant = r.p_adj < alpha
    if significant and r.ci_high < 0:
        return "improves"
    if significant and r.ci_low > 0:
        return "hurts"
    if not significant and r.ci_high <= tolerance:
        return "no loss"
    return "inconclusive"


def _order(table: pd.DataFrame) -> pd.DataFrame:
    """Best first: improves (strongest evidence: lowest adjusted p, then raw p, then the lowest
    interval top), no loss (smallest share of the space kept), inconclusive (lowest adjusted p),
    hurts (likewise)."""
    rank = table["verdict"].map({v: i for i, v in enumerate(VERDICTS)})
    key = np.where(table["verdict"] == "no loss", table["share_space"], table["p_adj"].fillna(2.0))
    out = table.assign(_r=rank, _k=key, _p=table["p"].fillna(2.0), _c=table["ci_high"].fillna(1))
    out = out.sort_values(["_r", "_k", "_p", "_c"], kind="stable")
    return out.drop(columns=["_r", "_k", "_p", "_c"]).reset_index(drop=True)[_COLUMNS]


_COLUMNS = [
    "candidate",
    "verdict",
    "D",
    "p_adj",
    "diff",
    "ci_low",
    "ci_high",
    "n_in",
    "n_out",
    "share_space",
    "share_pop",
    "D_whole",
    "p",
    "stat_in",
    "stat_out",
    "bins",
    "m_eff",
    "d_resolvable",
    "n_needed",
    "kind",
    "constraints",
]


# --- the next space -----------------------------------------------------------------------------


def chosen(table: pd.DataFrame, only_improving: bool = False) -> pd.DataFrame:
    """The refinements to write: the best ``improves`` and, unless ``only_improving``, the
    ``no loss`` simplifications of the structural kinds (shared, non-decreasing) compatible with
    it and with each other. Each was tested alone; their combination was not."""
    picks: list[int] = []
    used: dict[str, str] = {}
    imp = table.index[table["verdict"] == "improves"]
    order = list(imp[:1])
    if not only_improving:
        order += list(
            table.index[
                (table["verdict"] == "no loss") & table["kind"].isin(("shared", "non_decreasing"))
            ]
        )
    for i in order:
        c = json.loads(table.at[i, "constraints"])
        params = {
            p: k for k in ("shared", "non_decreasing", "non_increasing") for p in c.get(k, [])
        }
        if any(p in used for p in params):
            continue
        used.update(params)
        picks.append(i)
    return table.loc[picks]


def space_yaml(
    table: pd.DataFrame, space: Space, out: Path, picks: pd.DataFrame, sources: str = ""
) -> str:
    """The text of the refined space file (``extends`` the input space; a comment per constraint)."""
    builtin = Path(space.source).resolve().parent == builtin_dir().resolve()
    if builtin or not space.source:
        parent = space.name
    else:
        parent = os.path.relpath(Path(space.source).resolve(), out.resolve().parent)
    a = table.attrs
    lines = [
        f"# {out.stem}: {space.name} refined by dsd refine"
        + (f" from {sources}" if sources else "")
        + f" ({a.get('n', '?')} models, metric {a.get('metric', ERROR)}),",
        f"# {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}. Evidence per constraint: verdict;"
        " KS D between the models that satisfy it",
        "# and the rest on flops-normalised error EDFs, with its "
        f"{a.get('correction', CORRECTION)}-adjusted p over {a.get('tests', '?')} candidates;",
        "# the difference of the EDF's 25th percentile (in - rest, error %) with its 95% bootstrap"
        " interval;",
        "# models in vs rest; the exact share of the space kept. Each constraint was tested alone.",
        f"name: {json.dumps(out.stem)}",
        f"extends: {json.dumps(parent)}",
        f"description: {json.dumps(space.name + ' + ' + '; '.join(picks['candidate']))}",
        "constraints:",
    ]
    lists: dict[str, list[tuple[str, str]]] = {}
    ranges: list[tuple[str, str, list]] = []
    for r in picks.itertuples():
        c = json.loads(r.constraints)
        note = (
            f"# {r.candidate}: {r.verdict}; D={r.D:.3f}, p_adj={r.p_adj:.2g}; "
            f"q25 {100 * r.diff:+.2f} [{100 * r.ci_low:+.2f}, {100 * r.ci_high:+.2f}] %; "
            f"{r.n_in} vs {r.n_out} models; keeps {100 * r.share_space:.3g}% of the space"
        )
        for k in ("shared", "non_decreasing", "non_increasing"):
            for p in c.get(k, []):
                lists.setdefault(k, []).append((p, note))
        for q, v in c.get("ranges", {}).items():
            ranges.append((q, note, v))
    for k, items in lists.items():
        for _p, note in items:
            lines.append(f"  {note}")
        lines.append(f"  {k}: [{', '.join(p for p, _ in items)}]")
    if ranges:
        lines.append("  ranges:")
        for q, note, v in ranges:
            lines.append(f"    {note}")
            lines.append(f"    {q}: [{', '.join('null' if x is None else _num(x) for x in v)}]")
    return "\n".join(lines) + "\n"


def write_refined_space(
    table: pd.DataFrame,
    space: str | os.PathLike | Space,
    out_path: str | os.PathLike,
    *,
    only_improving: bool = False,
    sources: str = "",
) -> Path | None:
    """Write the next space (see :func:`chosen`) to ``out_path`` atomically, after loading it back
    to check it; None (nothing written) when no candidate qualifies."""
    sp = space if isinstance(space, Space) else load_space(space)
    out = check_output_path(out_path, (".yaml", ".yml"))
    picks = chosen(table, only_improving)
    if picks.empty:
        return None
    text = space_yaml(table, sp, out, picks, sources)
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
        load_space(tmp)  # the file must load (validated as any space file)
    return out


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
        f"{_si(a['regime'][0])}..{_si(a['regime'][1])} ({a.get('regime_source')}); "
        f"p adjusted by {a.get('correction')}; q25 interval: {a.get('reps')} bootstrap draws, 95%\n"
        + ", ".join(f"{v}: {counts.get(v, 0)}" for v in VERDICTS)
        + (f" (showing {len(t)} of {len(table)})" if len(t) < len(table) else "")
    )
    return head + "\n" + shown.to_string(index=False)


def _si(x: float) -> str:
    for unit, f in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= f:
            return f"{x / f:.4g}{unit}"
    return f"{x:.4g}"


def sample_size_note(table: pd.DataFrame, ds: Sequence[float] = (0.05, 0.1, 0.2)) -> str:
    """How many models resolve a KS difference, and what this population resolves (NDS: KS vs n)."""
    a = table.attrs
    alpha, power, k, n = a["alpha"], a["power"], max(int(a["tests"]), 1), int(a["n"])

    def per_pop(d: float, tests: int) -> str:
        return f"{math.ceil(2 * ks_sample_size(d, alpha, power, tests)):,}"

    one = ", ".join(f"D={d:g}: {per_pop(d, 1)}" for d in ds)
    many = ", ".join(f"D={d:g}: {per_pop(d, k)}" for d in ds)
    half = resolvable_d(n / 4, alpha, power, k)
    lines = [
        f"sample size (two-sample KS, power {power:g}): models per population to resolve a "
        f"difference D between two spaces at level {alpha:g}: {one};",
        f"  among {k} candidates (Bonferroni {alpha:g}/{k}): {many}.",
        f"  this population (n={n}) split half/half resolves {_resolves(half)} among {k} candidates",
    ]
    if len(table) and np.isfinite(table["d_resolvable"].iloc[0]):
        r = table.iloc[0]
        need = f"{int(r['n_needed']):,}" if np.isfinite(r["n_needed"]) else "more"
        enough = "enough" if r["D"] >= r["d_resolvable"] else f"not enough (needs {need} models)"
        lines[-1] += (
            f"; the first candidate's split ({r['n_in']}/{r['n_out']}) resolves "
            f"{_resolves(r['d_resolvable'])}: observed {r['D']:.3f}, {enough}"
        )
    return "\n".join(lines) + "."


def _resolves(d: float) -> str:
    return f"D >= {d:.3f}" if d <= 1 else "no D (every KS D is <= 1)"


def refine_section(
    table: pd.DataFrame, df: pd.DataFrame, space: Space, *, top: int = 3, seed: int = 0
) -> list[str]:
    """HTML parts of the refinement section: the table and, for the ``top`` candidates, the
    flops-normalised EDFs of the two sides with 95% DKW bands (for :mod:`dsd.analysis.report`)."""
    a = table.attrs
    metric = a.get("metric", ERROR)
    design = design_arrays(df)
    e = pd.to_numeric(df[metric]).to_numpy(dtype=float)
    c = pd.to_numeric(df["flops"]).to_numpy(dtype=float)
    lo, hi = a["regime"]
    inside = (c >= lo) & (c <= hi)
    design = {k: v[inside] for k, v in design.items()}
    e, c = e[inside], c[inside]
    shown = table.drop(columns=["constraints"]).copy()
    for col in ("diff", "ci_low", "ci_high", "stat_in", "stat_out"):
        shown[col] = 100 * shown[col]
    shown["share_space"] = 100 * shown["share_space"]
    parts = [
        _note(
            f"{a.get('n')} models of {space.name}, metric {metric} (errors in %). Each candidate "
            "compares the models that satisfy it (in) with the rest (out) on flops-normalised "
            f"EDFs: KS D, p adjusted by {a.get('correction')} over {a.get('tests')} candidates, "
            f"the difference of the 25th percentile (in - out) with a 95% bootstrap interval, "
            "the exact share of the space kept (%), models per side and, for inconclusive "
            "candidates, n_needed: models the population would need to resolve the observed D."
        ),
        table_html(shown, "{:.3g}"),
        _note(sample_size_note(table)),
    ]
    for r in table.head(top).itertuples():
        cand = Candidate(r.candidate, r.kind, r.constraints)
        m_in = holds(cand, design, space)
        if m_in.sum() < 2 or (~m_in).sum() < 2:
            continue
        (w_in, w_out), b = _weights(c, [m_in, ~m_in], int(r.bins) or 1, (lo, hi))
        fig = figures.plot_edfs(
            {f"in: {r.candidate}": edf(e[m_in], w_in), "out": edf(e[~m_in], w_out)},
            bands="dkw",
            normalized=b > 1,
            seed=seed,
            title=f"{r.candidate}: {r.verdict} (D={r.D:.3f}, p_adj={r.p_adj:.2g}, {b} flop bins)",
        )
        parts.append(figure_html(fig, r.candidate))
    return [_section(f"Refinement candidates: {space.name}", *parts)]


def refinement_sections(
    df: pd.DataFrame, space: str | os.PathLike | Space, *, seed: int = 0
) -> list[str]:
    """The refinement section of ``dsd report --refine SPACE``: :func:`refine` with its defaults
    on ``df``'s rows of ``space``, then :func:`refine_section`."""
    sp = space if isinstance(space, Space) else load_space(space)
    table = refine(df, sp, seed=seed)
    pop, _ = _population(df, sp, table.attrs["metric"], ())
    return refine_section(table, pop, sp, seed=seed)


def write_refine_report(
    table: pd.DataFrame,
    results,
    space: Space,
    out_path: str | os.PathLike,
    *,
    filters: Iterable[str] = (),
) -> Path:
    """A self-contained HTML page holding :func:`refine_section` (written atomically)."""
    path = check_report_path(out_path)
    df, _ = _population(results, space, table.attrs.get("metric", ERROR), filters)
    body = "\n".join(refine_section(table, df, space))
    title = f"dsd refine: {space.name}"
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{CSS}</style></head><body>\n<h1>{title}</h1>\n"
        + body
        + "\n</body></html>\n"
    )
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
