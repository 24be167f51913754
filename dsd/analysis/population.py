"""Populations, loaded once: each one's rows, ledger, EDF and (when normalised) NDS weights.

Errors are fractions in [0, 1] in every value here; tables and figures show percent.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dsd.analysis.data import (
    ERROR,
    REASONS,
    Results,
    exclusions,
    group_key,
    parse_filter,
    read_any,
    regime_range,
)
from dsd.analysis.fit import FitDomain
from dsd.analysis.stats import ALPHA, EDF, MAX_REPS, complexity_weights, edf
from dsd.errors import DsdError

#: The most complexity bins a normalised EDF may have (``--bins``).
MAX_BINS = 1000
COMPLEXITY = ("flops", "params", "acts")
DEFAULT_PARAMS = ("d", "depths", "widths", "b", "g", "w0", "wa", "wm")


@dataclass(frozen=True)
class AnalysisOptions:
    """How results become populations and what each analysis draws from them (validated here).

    ``normalise``: NDS weights by that column over ``bins`` bins of ``range`` or the sampling
    regime; ``fit_domain`` None: the RegNet space; ``refine``: a space whose refinement the report
    adds; ``figures``: a folder the report exports figures to; ``sources``: inputs it names.
    """

    metric: str = ERROR
    by: str = "space"
    filters: tuple[str, ...] = ()
    normalise: str | None = None
    bins: int = 10
    range: tuple[float, float] | None = None
    seed: int = 0
    params: tuple[str, ...] = DEFAULT_PARAMS
    frac: float = 0.25
    reps: int = 10_000
    ci: float = 0.95
    top: int = 10
    fit_domain: FitDomain | None = None
    alpha: float = ALPHA
    title: str = "dsd report"
    refine: str | os.PathLike | None = None
    figures: str | os.PathLike | None = None
    figure_format: str = "png"
    sources: tuple[str, ...] | None = None

    def __post_init__(self):
        for name in ("filters", "params", "sources"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(str(v) for v in value))
        for f in self.filters:
            parse_filter(f)
        in_range = self.range is None or 0 <= self.range[0] < self.range[1] < math.inf
        checks = [
            (
                isinstance(self.metric, str) and bool(self.metric),
                f"metric must be a column name, got {self.metric!r}",
            ),
            (
                isinstance(self.by, str) and bool(self.by),
                f"by must be a column name, got {self.by!r}",
            ),
            (
                self.normalise in (None, *COMPLEXITY),
                f"normalise: use one of {', '.join(COMPLEXITY)}",
            ),
            (1 <= self.bins <= MAX_BINS, f"bins must be from 1 to {MAX_BINS}, got {self.bins}"),
            (1 <= self.top, f"top must be >= 1, got {self.top}"),
            (1 <= self.reps <= MAX_REPS, f"reps must be from 1 to {MAX_REPS:,}, got {self.reps}"),
            (0 < self.frac <= 1, f"frac must be in (0, 1], got {self.frac}"),
            (0 < self.ci < 1, f"ci must be in (0, 1), got {self.ci}"),
            (0 < self.alpha < 1, f"alpha must be in (0, 1), got {self.alpha}"),
            (self.figure_format in ("png", "pdf", "svg"), "figure format: use png, pdf or svg"),
            (in_range, f"range must be finite with 0 <= low < high, got {self.range}"),
        ]
        for ok, message in checks:
            if not ok:
                raise DsdError(message)


@dataclass(frozen=True)
class Ledger:
    """Rows read for one population, and the rows excluded by reason."""

    read: int
    excluded: tuple[tuple[str, int], ...] = ()

    @property
    def used(self) -> int:
        """Rows analysed."""
        return self.read - sum(n for _, n in self.excluded)

    @classmethod
    def of(cls, reasons: pd.Series) -> Ledger:
        """The ledger of rows excluded for ``reasons`` ('' = used)."""
        counts = reasons.value_counts()
        return cls(len(reasons), tuple((r, int(counts[r])) for r in REASONS if r in counts))

    def describe(self, metric: str = ERROR) -> str:
        """``153 rows read, 150 used; excluded: 3 failed`` (the metric named for non-finite)."""
        text = f"{self.read} rows read, {self.used} used"
        if self.excluded:
            reasons = [(r.replace("metric", metric), n) for r, n in self.excluded]
            text += "; excluded: " + ", ".join(f"{n} {r}" for r, n in reasons)
        return text


@dataclass(frozen=True, eq=False)
class Population:
    """One population's rows used, ledger, error EDF and, when normalised, NDS ``weights`` (one a
    row; 0 outside the range) and normalised EDF ``nedf``."""

    name: str
    rows: pd.DataFrame
    ledger: Ledger
    metric: str
    edf: EDF
    weights: np.ndarray | None = None
    nedf: EDF | None = None

    @property
    def errors(self) -> np.ndarray:
        """The metric of each row used (fractions)."""
        return self.rows[self.metric].to_numpy(dtype=float)

    @property
    def n(self) -> int:
        """Rows used."""
        return len(self.rows)

    def curve(self, normalised: bool = False) -> EDF:
        """The normalised EDF when asked for (and computed), else the plain one."""
        if normalised and self.nedf is None:
            raise DsdError(f"population {self.name}: not normalised")
        return self.nedf if normalised else self.edf


@dataclass(frozen=True)
class Normalisation:
    """How normalised EDFs are weighted: ``column`` in ``bins`` equal bins over ``range`` (from
    ``source``: given, regime or data); ``empty`` says why fewer than ``requested_bins``."""

    column: str
    range: tuple[float, float]
    bins: int
    requested_bins: int
    source: str
    empty: str = ""
    weights: Mapping[str, np.ndarray] = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def note(self) -> str:
        """One sentence describing the weighting (and any reduction of the bin count)."""
        lo, hi = self.range
        where = {"given": "given", "regime": "the sampling regime's", "data": "the data's shared"}
        text = (
            f"Models weighted so that {self.column} is uniform over {self.bins} bins of "
            f"{where[self.source]} range [{lo:.4g}, {hi:.4g}] (NDS); models outside get weight 0."
        )
        if self.bins < self.requested_bins:
            text += (
                f" {self.requested_bins} bins were requested but {self.empty}; drawn with "
                f"{self.bins}, the largest bin count without an empty bin."
            )
        return text


def _complexity(df: pd.DataFrame, column: str, name: str) -> np.ndarray:
    """A population's complexity values (DsdError naming a missing column)."""
    if column not in df.columns:
        raise DsdError(f"--normalise {column}: population {name} has no column {column!r}")
    return pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)


def _range(pops: Mapping[str, pd.DataFrame], values, column: str, given) -> tuple[tuple, str]:
    """The normalisation range and where it comes from: given, the regimes' or the data's overlap."""
    if given is not None:
        return (float(given[0]), float(given[1])), "given"
    regimes = [regime_range(df, column) for df in pops.values()]
    if regimes and all(r is not None for r in regimes):
        lo_hi = (max(r[0] for r in regimes), min(r[1] for r in regimes))
        if not lo_hi[0] < lo_hi[1]:
            raise DsdError(f"the populations' {column} regimes do not overlap; give a range")
        return lo_hi, "regime"
    finite = [v[np.isfinite(v)] for v in values.values()]
    if any(v.size == 0 for v in finite):
        raise DsdError(f"--normalise {column}: a population has no finite {column}")
    lo, hi = max(v.min() for v in finite), min(v.max() for v in finite)
    if not lo < hi:
        raise DsdError(f"the populations' {column} ranges do not overlap; give a range LOW:HIGH")
    return (float(lo), float(hi)), "data"


def normalisation(
    pops: Mapping[str, pd.DataFrame],
    column: str,
    bins: int = 10,
    range: tuple[float, float] | None = None,
    reduce_bins: bool = True,
) -> Normalisation:
    """The weighting of normalised EDFs of ``pops`` (name -> rows) by ``column``.

    With ``reduce_bins``, an empty bin drops the bin count to the largest without one (from the
    smallest population's size down: bounded by the data); without it, it is a DsdError.
    """
    if not 1 <= bins <= MAX_BINS:
        raise DsdError(f"bins must be from 1 to {MAX_BINS}, got {bins}")
    values = {name: _complexity(df, column, name) for name, df in pops.items()}
    lo_hi, source = _range(pops, values, column, range)
    for name, v in values.items():
        if not np.any((v >= lo_hi[0]) & (v <= lo_hi[1])):
            v = v[np.isfinite(v)]
            span = f"its models span [{v.min():.4g}, {v.max():.4g}]" if v.size else "none known"
            raise DsdError(
                f"{name}: no model's {column} lies in the {source} range [{lo_hi[0]:.4g}, "
                f"{lo_hi[1]:.4g}] ({span}); give a range that holds them"
            )
    start = min([bins, *(max(len(v), 1) for v in values.values())]) if reduce_bins else bins
    first_error = "" if start == bins else f"bin counts above {start} leave a bin empty"
    # np.arange: the parameter `range` shadows the builtin
    for b in np.arange(start, 0, -1).tolist() if reduce_bins else (bins,):
        try:
            weights = {n: _weights(n, v, b, lo_hi) for n, v in values.items()}
        except DsdError as e:
            if not reduce_bins or b == 1:
                raise
            first_error = first_error or str(e).split(";")[0]
            continue
        return Normalisation(column, lo_hi, b, bins, source, first_error, weights)
    raise AssertionError("unreachable")  # pragma: no cover


def _weights(name: str, values: np.ndarray, bins: int, lo_hi) -> np.ndarray:
    """:func:`complexity_weights` of one population, its errors naming it."""
    try:
        return complexity_weights(values, bins, lo_hi)
    except DsdError as e:
        raise DsdError(f"{name}: {e}") from None


@dataclass(eq=False, repr=False)  # a Mapping compares as one; its repr stays short
class Populations(Mapping[str, Population]):
    """Name -> :class:`Population` (in order of first appearance), with the ledger of every group
    read, the options they were loaded with, their input files and any :class:`Normalisation`."""

    _items: Mapping[str, Population]
    ledgers: Mapping[str, Ledger]
    options: AnalysisOptions
    sources: Sequence[str] = ()
    normalisation: Normalisation | None = None

    def __post_init__(self):
        self._items, self.ledgers = dict(self._items), dict(self.ledgers)
        self.sources = tuple(self.sources)

    def __getitem__(self, name: str) -> Population:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def metric(self) -> str:
        return self.options.metric

    @property
    def rows(self) -> pd.DataFrame:
        """Every row used, all populations together."""
        return pd.concat([p.rows for p in self.values()], ignore_index=True)

    def edfs(self, normalised: bool = False) -> dict[str, EDF]:
        """Each population's EDF (its normalised EDF when asked for)."""
        return {name: p.curve(normalised) for name, p in self.items()}

    def ledger_table(self) -> pd.DataFrame:
        """One row a group read: ``name``, ``read``, ``used`` and one column a reason excluded."""
        rows = [
            (name, led.read, led.used, *(dict(led.excluded).get(r, 0) for r in REASONS))
            for name, led in self.ledgers.items()
        ]
        table = pd.DataFrame(rows, columns=["name", "read", "used", *REASONS])
        return table.loc[:, (table != 0).any(axis=0) | table.columns.isin(["name", "read", "used"])]

    def ledger_lines(self) -> list[str]:
        """One line a group: ``AnyNetXA: 153 rows read, 150 used; excluded: 3 failed``."""
        return [f"{name}: {ledger.describe(self.metric)}" for name, ledger in self.ledgers.items()]


def load_populations(
    results: Results | Populations, options: AnalysisOptions | None = None, **changes
) -> Populations:
    """Read ``results`` once into :class:`Populations` as ``options`` (with ``changes``) say;
    every row read is used or counted in its group's ledger with a reason."""
    options = options_for(results, options, changes)
    if isinstance(results, Populations):
        return _reuse(results, options)
    df, sources = read_any(results, options.metric)
    reason = exclusions(df, options.filters, options.metric)
    key = group_key(df, options.by)
    reason[(reason == "") & key.isna()] = "missing group key"
    named = key.fillna(f"(no {options.by})")
    ledgers = {str(k): Ledger.of(reason[named == k]) for k in pd.unique(named)}
    used = df[reason == ""]
    if used.empty:
        lines = "; ".join(f"{k}: {v.describe(options.metric)}" for k, v in ledgers.items())
        raise DsdError(f"no rows left to analyse ({lines or 'no rows read'})")
    items = {}
    for name, rows in used.groupby(key[reason == ""], sort=False):
        rows = rows.reset_index(drop=True)
        items[str(name)] = Population(
            str(name), rows, ledgers[str(name)], options.metric, edf(rows[options.metric])
        )
    pops = Populations(items, ledgers, options, options.sources or sources)
    return normalise(pops, options.normalise) if options.normalise else pops


def options_for(results, options: AnalysisOptions | None, changes: Mapping) -> AnalysisOptions:
    """``options`` (by default those ``results`` were loaded with, or the defaults) with ``changes``."""
    if options is None:
        options = results.options if isinstance(results, Populations) else AnalysisOptions()
    return dataclasses.replace(options, **changes)


#: The options that decide what populations hold (the others only what is drawn from them).
LOADING = ("metric", "by", "filters", "normalise", "bins", "range")


def _reuse(pops: Populations, options: AnalysisOptions) -> Populations:
    """Loaded ``pops`` with ``options``; DsdError when they would load them differently."""
    for name in LOADING:
        if getattr(options, name) != getattr(pops.options, name):
            raise DsdError(
                f"these populations were loaded with {name}={getattr(pops.options, name)!r}, "
                f"not {getattr(options, name)!r}: load them again"
            )
    return Populations(pops, pops.ledgers, options, pops.sources, pops.normalisation)


def normalise(pops: Populations, column: str = "flops") -> Populations:
    """``pops`` with each population's NDS weights and normalised EDF over ``column``."""
    o = pops.options
    norm = normalisation({k: p.rows for k, p in pops.items()}, column, o.bins, o.range)
    items = {
        name: dataclasses.replace(
            p, weights=norm.weights[name], nedf=edf(p.errors, weights=norm.weights[name])
        )
        for name, p in pops.items()
    }
    return Populations(items, pops.ledgers, pops.options, pops.sources, norm)
