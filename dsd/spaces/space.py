"""A design space: the interface every kind of space implements, and the sampler they share.

A population is de-duplicated on the design as drawn (:func:`design_id`), as the reference sweep
skips a drawn configuration it has seen: two RegNet settings that build one network are two rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from dsd.errors import DsdError, SpaceError
from dsd.nets.config import NET_FIELDS, AnyNet, adjust_compatibility, hash_json, hash_rows
from dsd.nets.counters import complexity_batch
from dsd.schema import (
    BUILT_COLUMNS,
    DESIGN_COLUMNS,
    PARAMETERS,
    REGNET_COLUMNS,
    SCHEMA_VERSION,
    regime_json,
)
from dsd.spaces.constraints import ORDERS, UNCONSTRAINED, Allowed, Constraints, inside, ordered
from dsd.spaces.params import Param, is_number

COMPLEXITY = ("flops", "params", "acts")
#: Bounded effort: stop after MAX_DRAWS candidates, or HOPELESS_DRAWS of which none was in range.
MAX_DRAWS = 10_000_000
HOPELESS_DRAWS = 1_000_000
MAX_MODELS = 1_000_000  # a million rows is a few hundred MB and tens of seconds
MAX_BATCH = 1 << 20
#: Network fields: an AnyNet's, with its defaults and bounds.
NETWORK = AnyNet.NET_BOUNDS
DEFAULT_NETWORK = {f.name: f.default for f in dataclasses.fields(AnyNet) if f.name in NETWORK}

#: Candidates as arrays: the per-stage design as drawn (models x stages), its built twins,
#: scalars, complexity, and ``draw``: the candidate's position in the random stream.
Batch = dict[str, np.ndarray]


@dataclass(frozen=True)
class SampleStats:
    """How a sample was obtained: candidates drawn, how many passed each filter, seconds."""

    drawn: int
    valid: int
    in_range: int
    kept: int
    seconds: float


@dataclass(frozen=True)
class Space(ABC):
    """A design space: named parameters, network fields, constraints; AnyNet or RegNet."""

    name: str
    parameters: dict[str, Param]
    network: dict[str, Any]
    constraints: Constraints = UNCONSTRAINED
    description: str = ""
    ancestors: tuple[str, ...] = ()  # the spaces it extends, by name, nearest first
    paper_size: float | None = None
    source: str = ""
    added: str = ""  # what the space adds to its parent, in words (for ``dsd spaces``)

    kind: ClassVar[str]  # anynet or regnet
    PARAMETERS: ClassVar[tuple[str, ...]]

    @property
    def parent(self) -> str | None:
        """The space this one extends, by name (None for a root)."""
        return self.ancestors[0] if self.ancestors else None

    @property
    @abstractmethod
    def allowed(self) -> Allowed:
        """What this space's constraints may name."""

    @property
    @abstractmethod
    def size(self) -> int:
        """Exact number of configurations, as declared (before the compatibility rule)."""

    @property
    @abstractmethod
    def degrees_of_freedom(self) -> int:
        """Number of free parameters (a shared parameter counts once)."""

    @abstractmethod
    def draw(self, rng: np.random.Generator, count: int) -> list[Batch]:
        """The buildable candidates of ``count`` draws, as batches of one stage count each."""

    @abstractmethod
    def quantity(self, name: str, design: Mapping[str, np.ndarray]) -> np.ndarray:
        """The quantity ``name`` of each drawn design: (n,), or (n, stages) for every stage."""

    @abstractmethod
    def layout(self) -> str:
        """The stages in words, for :meth:`describe`."""

    def with_network(self, **overrides: Any) -> Space:
        """The same space with network fields overridden (``resolution``, ``num_classes``, ...)."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        net = check_network(self.name, {**self.network, **overrides})
        return dataclasses.replace(self, network=net)

    def with_constraints(self, extra: Constraints | Mapping[str, Any]) -> Space:
        """This space conditioned on ``extra`` constraints as well; SpaceError if not allowed.
        (Its :attr:`size` may be 0; a space file that leaves nothing is refused.)"""
        where = self.source or self.name
        if not isinstance(extra, Constraints):
            extra = Constraints.parse(extra, where)
        merged = self.constraints.merge(extra).check(where, self.allowed)
        return dataclasses.replace(self, constraints=merged)

    def satisfies(
        self, design: Mapping[str, np.ndarray], constraints: Constraints | None = None
    ) -> np.ndarray:
        """Which drawn designs (a :data:`Batch`) satisfy ``constraints`` (default: the space's)."""
        c = self.constraints if constraints is None else constraints
        ok = np.ones(len(design["depths"]), dtype=bool)
        if len(ok) == 0:
            return ok
        for kind in ORDERS:
            for p in getattr(c, kind):
                ok &= ordered(kind, np.asarray(design[PARAMETERS[p][1]]))
        for q, low, high in c.ranges:
            within = inside(self.quantity(q, design), low, high)
            ok &= within if within.ndim == 1 else np.all(within, axis=1)
        return ok

    def sample(
        self,
        n: int,
        *,
        flops: tuple[float, float] | None = None,
        params: tuple[float, float] | None = None,
        acts: tuple[float, float] | None = None,
        seed: int = 0,
        max_draws: int = MAX_DRAWS,
        **network: Any,
    ) -> pd.DataFrame:
        """``n`` models of distinct designs whose complexity lies in the given closed ranges.

        ``network`` overrides network fields (``resolution=32``). DsdError if fewer than ``n``
        are found in ``max_draws`` candidates; ``df.attrs["sample_stats"]``: :class:`SampleStats`.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= MAX_MODELS:
            raise DsdError(f"n must be an integer from 1 to {MAX_MODELS:,}, got {n!r}")
        space = self.with_network(**network) if network else self
        regime = {
            k: _check_range(k, r)
            for k, r in (("flops", flops), ("params", params), ("acts", acts))
            if r is not None
        }
        start = time.perf_counter()
        rng = space_rng(seed, self.name)
        tally = _Tally(n)
        picked: list[Batch] = []
        size = 8192
        while tally.more(max_draws):
            size = min(size, max_draws - tally.drawn, space.max_batch)
            picked += space._step(rng, size, regime, tally)
            # Grow the batch towards what the observed acceptance rate needs (deterministic).
            rate = max(tally.in_range, 1) / tally.drawn
            size = int(min(MAX_BATCH, max(8192, 1.2 * (n - tally.kept) / rate)))
        stats = SampleStats(
            tally.drawn, tally.valid, tally.in_range, tally.kept, time.perf_counter() - start
        )
        if tally.kept < n:
            raise DsdError(_shortfall(self.name, n, stats, regime))
        df = space._frame(picked, seed, regime)
        df.attrs["sample_stats"] = dataclasses.asdict(stats)
        return df

    @property
    def max_batch(self) -> int:
        """The most candidates drawn at once."""
        return MAX_BATCH

    def _step(self, rng, size: int, regime, tally: _Tally) -> list[Batch]:
        """Draw ``size`` candidates; keep, in draw order, the first of each new design that lies
        in the regime and satisfies the constraints."""
        batches = self.draw(rng, size)
        for b in batches:
            b["draw"] = b["draw"] + tally.drawn
        tally.drawn += size
        tally.valid += sum(len(b["draw"]) for b in batches)
        accepted = [self._accepted(b, regime) for b in batches]
        tally.in_range += sum(len(b["draw"]) for b in accepted)
        return tally.first_new(accepted)

    def _accepted(self, batch: Batch, regime: dict[str, tuple[float, float]]) -> Batch:
        """The candidates in the regime that satisfy the constraints, with their complexity."""
        cx = self._complexity(batch)
        keep = self.satisfies(batch)
        for k, (low, high) in regime.items():
            keep &= (cx[k] >= low) & (cx[k] <= high)
        return {k: v[keep] for k, v in {**batch, **cx}.items()}

    def _complexity(self, batch: Batch) -> dict[str, np.ndarray]:
        if len(batch["draw"]) == 0:
            return {k: np.zeros(0, dtype=np.int64) for k in COMPLEXITY}
        design = ("depths", "built_widths", "built_group_widths", "bottleneck_ratios", "strides")
        return complexity_batch(*(batch[k] for k in design), **self.network)

    def _frame(self, picked: list[Batch], seed: int, regime) -> pd.DataFrame:
        """The samples table (:mod:`dsd.schema`), one row a model, in draw order."""
        order = np.argsort(np.concatenate([b["draw"] for b in picked]), kind="stable")
        cols: dict[str, Any] = {}
        for k in picked[0]:
            if picked[0][k].ndim == 2:  # per-stage values: one list a row
                rows = [row for b in picked for row in b[k].tolist()]
                cols[k] = [rows[i] for i in order]
            else:
                cols[k] = np.concatenate([b[k] for b in picked])[order]
        n = len(order)
        # the network fields as config_hash and design_id hash them (se_ratio a float)
        fixed = {**self.network, "se_ratio": float(self.network["se_ratio"])}
        built = {k: cols[BUILT_COLUMNS.get(k, k)] for k in (*DESIGN_COLUMNS, "strides")}
        drawn = {k: cols[k] for k in (*DESIGN_COLUMNS, "strides", *REGNET_COLUMNS) if k in cols}
        drawn = {k: v if isinstance(v, list) else v.tolist() for k, v in drawn.items()}
        data: dict[str, Any] = {
            "model_id": hash_rows(built, fixed),
            "design_id": hash_rows(drawn, fixed),
            "space": [self.name] * n,
            "seed": np.full(n, seed, dtype=np.int64),
            "schema_version": np.full(n, SCHEMA_VERSION, dtype=np.int64),
            **{k: cols.pop(k) for k in (*DESIGN_COLUMNS, *BUILT_COLUMNS.values(), "strides")},
            **{k: [fixed[k]] * n for k in NET_FIELDS},
            **{k: cols.pop(k).astype(np.int64) for k in COMPLEXITY},
            **{k: v for k, v in cols.items() if k != "draw"},  # the kind's scalars
            "regime": [regime_json(regime)] * n,
        }
        return pd.DataFrame(data)

    def describe(self) -> str:
        """Network fields, domains and distributions, constraints and size, in lines."""
        extends = f", extends {self.parent}" if self.parent else ""
        lines = [f"{self.name} ({self.kind} space{extends})"]
        lines += [f"  {self.description}"] if self.description else []
        lines += [
            f"  source: {self.source}",
            "  network: " + ", ".join(f"{k}={v}" for k, v in self.network.items()),
            f"  stages: {self.layout()}",
            "  parameters:",
        ]
        for k, p in self.parameters.items():
            rule = self.constraints.rule(k)
            tag = f" [{rule.replace('_', '-')}]" if rule else ""
            lines.append(f"    {k:<17} {p.describe()}{tag}")
        lines.append(f"  constraints: {', '.join(self.constraints.words()) or 'none'}")
        paper = f" (paper: {self.paper_size:.1e})" if self.paper_size else ""
        lines.append(
            f"  size: {self.size:,} = {self.size:.2e}{paper}; "
            f"degrees of freedom: {self.degrees_of_freedom}"
        )
        return "\n".join(lines)


@dataclass
class _Tally:
    """The sampler's running counts and the designs kept so far."""

    n: int
    drawn: int = 0
    valid: int = 0
    in_range: int = 0
    kept: int = 0
    seen: set = dataclasses.field(default_factory=set)

    def more(self, max_draws: int) -> bool:
        """Whether to draw again: models missing, draws left, the regime not hopeless."""
        hopeful = self.in_range > 0 or self.drawn < HOPELESS_DRAWS
        return self.kept < self.n and self.drawn < max_draws and hopeful

    def first_new(self, accepted: list[Batch]) -> list[Batch]:
        """Of ``accepted``, in draw order, the candidates of new designs, up to ``n`` in all."""
        keys = [key for b in accepted for key in design_keys(b)]
        draws = np.concatenate([b["draw"] for b in accepted]) if accepted else np.zeros(0)
        which = np.repeat(np.arange(len(accepted)), [len(b["draw"]) for b in accepted])
        rows = np.concatenate([np.arange(len(b["draw"])) for b in accepted]) if accepted else []
        take: list[list[int]] = [[] for _ in accepted]
        for j in np.argsort(draws, kind="stable"):
            if self.kept == self.n:
                break
            if keys[j] not in self.seen:
                self.seen.add(keys[j])
                take[which[j]].append(rows[j])
                self.kept += 1
        return [{k: v[idx] for k, v in b.items()} for b, idx in zip(accepted, take) if idx]


def design_keys(batch: Batch) -> list[bytes]:
    """A key per candidate that equal drawn designs share (the network is the space's)."""
    n = len(batch["draw"])
    if n == 0:
        return []
    columns = [c for c in (*DESIGN_COLUMNS, *REGNET_COLUMNS) if c in batch]
    parts = [np.asarray(batch[c], dtype=np.float64).reshape(n, -1) for c in columns]
    mat = np.ascontiguousarray(np.concatenate(parts, axis=1))
    return [row.tobytes() for row in mat]


def design_id(row: Mapping[str, Any]) -> str:
    """The id of a samples row's design as drawn (RegNet: with ``depth``, ``w0``, ``wa``,
    ``wm``), by :func:`dsd.nets.config_hash`'s recipe: an AnyNet design the compatibility rule
    leaves unchanged has ``design_id == model_id``."""
    design = {k: [int(x) for x in row[k]] for k in ("depths", "widths", "group_widths", "strides")}
    design["bottleneck_ratios"] = [float(b) for b in row["bottleneck_ratios"]]
    design.update({k: row[k] for k in NET_FIELDS}, se_ratio=float(row["se_ratio"]))
    if all(k in row for k in REGNET_COLUMNS):
        design.update(depth=int(row["depth"]), w0=int(row["w0"]))
        design.update(wa=float(row["wa"]), wm=float(row["wm"]))
    return hash_json(design)


def space_rng(seed: int, space: str) -> np.random.Generator:
    """The random stream of ``space`` under ``seed``: two spaces draw independent populations
    (the independence every KS p-value assumes)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise DsdError(f"seed must be a non-negative integer, got {seed!r}")
    key = int.from_bytes(hashlib.blake2b(space.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(np.random.SeedSequence([int(seed), key]))


def check_network(where: str, network: Any) -> dict[str, Any]:
    """The network fields of a space, checked against :data:`NETWORK`."""
    if not isinstance(network, Mapping):
        raise SpaceError(f"{where}: network: expected a mapping of {', '.join(NETWORK)}")
    for k, v in network.items():
        if k not in NETWORK:
            raise SpaceError(
                f"{where}: unknown network field {k!r} (allowed: {', '.join(NETWORK)})"
            )
        bound, key = NETWORK[k], f"{where}: network.{k}"
        if bound.names:
            if v not in bound.names:
                allowed = ", ".join(bound.names)
                raise SpaceError(f"{key}: {v!r} is not a {k} (allowed: {allowed})"[:300])
        elif bound.kind is int and (not isinstance(v, int | np.integer) or isinstance(v, bool)):
            raise SpaceError(f"{key}: expected an integer, got {v!r}"[:300])
        elif bound.kind is float and not is_number(v):
            raise SpaceError(f"{key}: expected a number, got {v!r}"[:300])
        elif not bound.low <= v <= bound.high:
            raise SpaceError(f"{key}: must be from {bound.low} to {bound.high:,}, got {v}")
    return dict(network)


def _shortfall(name: str, n: int, stats: SampleStats, regime) -> str:
    """What a sampler that could not find ``n`` models reached, in one line."""
    ranges = ", ".join(f"{k} {_si(lo)}..{_si(hi)}" for k, (lo, hi) in regime.items()) or "no range"
    return (
        f"{name}: found only {stats.kept} of {n} distinct models with {ranges} after "
        f"{stats.drawn:,} draws ({stats.in_range:,} in range); widen the range or lower n"
    )


def _check_range(name: str, r) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in r)
    except (TypeError, ValueError, OverflowError):
        raise DsdError(f"{name}: expected a (low, high) pair, got {r!r}"[:300]) from None
    if not (low <= high) or math.isnan(low):
        raise DsdError(f"{name}: reversed or empty range {_si(low)}:{_si(high)}")
    return low, high


def _si(x: float) -> str:
    for unit, f in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= f:
            return f"{x / f:g}{unit}"
    return f"{x:g}"


def stage_batch(depths, widths, group_widths, bottleneck_ratios, strides) -> Batch:
    """Candidates from their per-stage design (models x stages), with their built widths."""
    built_widths, built_group_widths = adjust_compatibility(widths, bottleneck_ratios, group_widths)
    depths = np.asarray(depths, dtype=np.int64)
    return {
        "depths": depths,
        "widths": np.asarray(widths).astype(np.int64),
        "group_widths": np.asarray(group_widths).astype(np.int64),
        "bottleneck_ratios": np.asarray(bottleneck_ratios, dtype=np.float64),
        "built_widths": built_widths,
        "built_group_widths": built_group_widths,
        "strides": np.broadcast_to(np.asarray(strides, dtype=np.int64), depths.shape),
        "draw": np.arange(len(depths)),
    }
