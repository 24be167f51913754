"""A design space: validated domains and constraints, its exact size, and its sampler.

:func:`load_space` reads a built-in name or a YAML path (see :mod:`dsd.spaces.loader` for the
format). :meth:`Space.sample` draws models flop-matched (or params/acts-matched), vectorised:
draw a batch of candidates as arrays, apply the constraints and the compatibility rule,
compute the complexity of the whole batch at once, keep those in range and not seen before,
repeat until ``n``. Deterministic for a seed: the same seed gives the same rows in the same order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dsd.errors import DsdError
from dsd.nets.config import NET_FIELDS, adjust_compatibility, config_hash
from dsd.nets.counters import complexity_batch
from dsd.nets.regnet import quantized_linear
from dsd.schema import BUILT_COLUMNS, DESIGN_COLUMNS, SCHEMA_VERSION, regime_json
from dsd.spaces import derived, loader
from dsd.spaces.params import Param

COMPLEXITY = ("flops", "params", "acts")
#: Bounded effort: a regime the space cannot reach stops after this many candidate draws, or
#: after HOPELESS_DRAWS draws of which none was in range.
MAX_DRAWS = 10_000_000
HOPELESS_DRAWS = 1_000_000


@dataclass(frozen=True)
class SampleStats:
    """How a sample was obtained: candidates drawn, how many passed each filter, time taken."""

    drawn: int
    valid: int
    in_range: int
    kept: int
    seconds: float


@dataclass(frozen=True)
class Space:
    """A design space (see the module docstring). ``parameters`` maps names to :class:`Param`."""

    name: str
    kind: str
    parameters: dict[str, Param]
    network: dict[str, Any]
    stages: int = 4
    strides: tuple[int, ...] = (2, 2, 2, 2)
    shared: tuple[str, ...] = ()
    non_decreasing: tuple[str, ...] = ()
    num_stages: tuple[int, int] = (4, 4)
    description: str = ""
    parent: str | None = None
    paper_size: float | None = None
    source: str = ""
    added: str = ""
    non_increasing: tuple[str, ...] = ()
    ranges: derived.Ranges = ()  # bounds on derived quantities, see dsd.spaces.derived

    # --- size ---------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Exact number of configurations of the space.

        AnyNet spaces: per stage, the product of the parameter domains; a shared parameter counts
        once for the whole network; a non-decreasing parameter with ``m`` values over ``S``
        stages counts the multisets, ``C(m + S - 1, S)`` (not ``m**S / S!``). Configurations are
        counted as declared, before the compatibility adjustment.

        RegNet spaces: the product of the quantized parameter grids (d, w0, wa, wm, b, g), i.e.
        the settings the sampler can draw, before the stage-count filter. Many settings give the
        same network, so this over-counts distinct networks; the paper does not say how its
        3.0e8 is counted.
        """
        if self.ranges or self.non_increasing:
            return derived.count(self)
        counts = {k: p.count() for k, p in self.parameters.items()}
        if self.kind == "regnet":
            return math.prod(counts.values())
        total = 1
        for k, m in counts.items():
            if k in self.shared:
                total *= m
            elif k in self.non_decreasing:
                total *= math.comb(m + self.stages - 1, self.stages)
            else:
                total *= m**self.stages
        return total

    @property
    def degrees_of_freedom(self) -> int:
        """Number of free parameters (a shared parameter counts once)."""
        if self.kind == "regnet":
            return sum(1 for p in self.parameters.values() if p.count() > 1)
        return sum(
            1 if k in self.shared else self.stages
            for k, p in self.parameters.items()
            if p.count() > 1
        )

    def with_network(self, **overrides: Any) -> Space:
        """The same space with network-level fields overridden (``resolution``, ``num_classes``, ...)."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        unknown = [k for k in overrides if k not in NET_FIELDS]
        if unknown:
            raise DsdError(
                f"unknown network field {unknown[0]!r} (allowed: {', '.join(NET_FIELDS)})"
            )
        net = loader.check_network(Path(self.source or self.name), {**self.network, **overrides})
        return dataclasses.replace(self, network=net)

    # --- sampling -----------------------------------------------------------------------------

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
        """``n`` distinct models whose complexity lies in the given closed ranges, as a DataFrame.

        ``network`` overrides network-level fields for this sample (e.g. ``resolution=32,
        num_classes=10``). Raises :class:`~dsd.errors.DsdError` if fewer than ``n`` models are
        found within ``max_draws`` candidates, saying what was reached.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise DsdError(f"n must be a positive integer, got {n!r}")
        space = self.with_network(**network) if network else self
        ranges = {
            k: _check_range(k, r)
            for k, r in (("flops", flops), ("params", params), ("acts", acts))
            if r is not None
        }
        t0 = time.perf_counter()
        rng = space_rng(seed, self.name)
        keys: set[bytes] = set()
        chunks: list[dict[str, np.ndarray]] = []
        kept = drawn = valid = in_range = 0
        batch = 8192
        while kept < n and drawn < max_draws and (in_range or drawn < HOPELESS_DRAWS):
            batch = min(batch, max_draws - drawn)
            cand = space._draw(rng, batch)
            drawn += batch
            valid += len(cand["depths"])
            sel = space._accepted(cand, ranges)
            in_range += len(sel["depths"])
            take = _new_rows(sel, keys, n - kept)
            if len(take):
                chunks.append({k: v[take] for k, v in sel.items()})
                kept += len(take)
            # Grow the batch towards what the observed acceptance rate needs (deterministic).
            rate = max(in_range, 1) / drawn
            batch = int(min(1 << 20, max(8192, 1.2 * (n - kept) / rate)))
        stats = SampleStats(drawn, valid, in_range, kept, time.perf_counter() - t0)
        if kept < n:
            raise DsdError(_shortfall(self.name, n, stats, ranges))
        df = space._frame(chunks, seed, ranges)
        df.attrs["sample_stats"] = dataclasses.asdict(stats)
        return df

    def _accepted(
        self, cand: dict[str, np.ndarray], ranges: dict[str, tuple[float, float]]
    ) -> dict[str, np.ndarray]:
        """The candidates inside every complexity range and the derived constraints, with their
        complexity columns added."""
        cx = self._complexity(cand)
        mask = np.ones(len(cand["depths"]), dtype=bool)
        for k, (lo, hi) in ranges.items():
            mask &= (cx[k] >= lo) & (cx[k] <= hi)
        mask &= derived.mask(self, cand)
        return {k: v[mask] for k, v in {**cand, **cx}.items()}

    def rule(self, param: str) -> str:
        """The constraint on a per-stage parameter: ``"shared"``, ``"non_decreasing"`` or ``""``."""
        if param in self.shared:
            return "shared"
        return "non_decreasing" if param in self.non_decreasing else ""

    def _draw(self, rng: np.random.Generator, count: int) -> dict[str, np.ndarray]:
        """A batch of candidates: drawn per-stage arrays, their built (adjusted) twins, RegNet params.

        AnyNet spaces draw each parameter from its distribution *conditioned* on the space's
        constraints (see :func:`draw_conditioned`): a refined space is its parent restricted to
        the models that satisfy the constraint.
        """
        if self.kind == "regnet":
            return self._draw_regnet(rng, count)
        s = self.stages
        vals = {}
        for k, p in self.parameters.items():
            rule = self.rule(k)
            vals[k] = draw_conditioned(p, rng, count, s, rule)
        return self._per_stage(
            vals["depth"], vals["width"], vals["bottleneck_ratio"], vals["group_width"]
        )

    def _per_stage(self, d, w, b, g, extra=None) -> dict[str, np.ndarray]:
        w_adj, g_adj = adjust_compatibility(w, b, g)
        out = {
            "depths": d.astype(np.int64),
            "widths": np.asarray(w).astype(np.int64),
            "group_widths": np.asarray(g).astype(np.int64),
            "bottleneck_ratios": np.asarray(b, dtype=np.float64),
            "built_widths": w_adj,
            "built_group_widths": g_adj,
            "strides": np.broadcast_to(np.asarray(self.strides, dtype=np.int64), d.shape),
        }
        return {**out, **(extra or {})}

    def _draw_regnet(self, rng: np.random.Generator, count: int) -> dict[str, np.ndarray]:
        p = self.parameters
        d = p["depth"].draw(rng, count).astype(np.int64)
        w0, wa, wm = p["w0"].draw(rng, count), p["wa"].draw(rng, count), p["wm"].draw(rng, count)
        bm, gw = p["bottleneck_ratio"].draw(rng, count), p["group_width"].draw(rng, count)
        # Quantized linear widths for every block (the reference generator, vectorised).
        j = np.arange(int(d.max()))
        blockw, s_j = quantized_linear(int(d.max()), w0, wa, wm)
        blockw = blockw.astype(np.int64)
        live = j[None, :] < d[:, None]
        # Widths are non-decreasing along blocks: a stage starts wherever the width changes.
        starts = live & np.concatenate(
            [np.ones((count, 1), bool), blockw[:, 1:] != blockw[:, :-1]], axis=1
        )
        n_st = starts.sum(1)
        total = np.where(live, s_j, -1).max(1) + 1
        lo, hi = self.num_stages
        ok = (n_st == total) & (n_st >= lo) & (n_st <= hi)
        # Stage counts differ between candidates: keep one count per batch (the common case is lo == hi).
        target = hi if lo == hi else int(np.bincount(n_st[ok]).argmax()) if ok.any() else hi
        ok &= n_st == target
        rows = np.flatnonzero(ok)
        if len(rows) == 0:
            empty = np.zeros((0, target), dtype=np.int64)
            z = np.zeros(0)
            extra = {k: z for k in ("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio")}
            return self._per_stage(empty, empty, empty.astype(float), empty, extra)
        st, lv, bw = starts[rows], live[rows], blockw[rows]
        stage_of = np.cumsum(st, axis=1) - 1
        depths = np.zeros((len(rows), target), dtype=np.int64)
        r_idx = np.broadcast_to(np.arange(len(rows))[:, None], st.shape)
        np.add.at(depths, (r_idx[lv], stage_of[lv]), 1)
        widths = bw[st].reshape(len(rows), target)
        shape = depths.shape
        bb = np.broadcast_to(bm[rows, None], shape)
        gg = np.broadcast_to(gw[rows, None], shape)
        extra = {
            "depth": d[rows],
            "w0": w0[rows],
            "wa": wa[rows],
            "wm": wm[rows],
            "group_width": gw[rows],
            "bottleneck_ratio": bm[rows],
        }
        return self._per_stage(depths, widths, bb, gg, extra)

    def _complexity(self, cand: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if len(cand["depths"]) == 0:
            return {k: np.zeros(0, dtype=np.int64) for k in COMPLEXITY}
        return complexity_batch(
            cand["depths"],
            cand["built_widths"],
            cand["built_group_widths"],
            cand["bottleneck_ratios"],
            cand["strides"],
            **self.network,
        )

    def _frame(
        self, chunks: list[dict[str, np.ndarray]], seed: int, ranges: dict[str, tuple[float, float]]
    ) -> pd.DataFrame:
        """The samples table (schema in :mod:`dsd.schema`): drawn design, built values, complexity."""
        cols = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
        n = len(cols["depths"])
        net = self.network
        lists = {k: cols[k].tolist() for k in (*DESIGN_COLUMNS, *BUILT_COLUMNS.values(), "strides")}
        # model_id names the network that is built: the hash of the adjusted per-stage values.
        keys = (*DESIGN_COLUMNS, "strides")
        ids = [
            config_hash({**{k: lists[BUILT_COLUMNS.get(k, k)][i] for k in keys}, **net})
            for i in range(n)
        ]
        data: dict[str, Any] = {
            "model_id": ids,
            "space": [self.name] * n,
            "seed": np.full(n, seed, dtype=np.int64),
            "schema_version": np.full(n, SCHEMA_VERSION, dtype=np.int64),
            **lists,
        }
        for k in NET_FIELDS:
            data[k] = [net[k]] * n
        for k in COMPLEXITY:
            data[k] = cols[k].astype(np.int64)
        if self.kind == "regnet":
            data["depth"] = cols["depth"].astype(np.int64)
            data["w0"] = cols["w0"].astype(np.int64)
            data["wa"] = cols["wa"].astype(np.float64)
            data["wm"] = cols["wm"].astype(np.float64)
        # Shared parameters as scalars (the drawn value; with (d, w0, wa, wm) they regenerate a RegNet).
        if self.kind == "regnet" or "bottleneck_ratio" in self.shared:
            data["bottleneck_ratio"] = cols["bottleneck_ratios"][:, 0].astype(np.float64)
        if self.kind == "regnet" or "group_width" in self.shared:
            data["group_width"] = cols["group_widths"][:, 0].astype(np.int64)
        data["regime"] = [regime_json(ranges)] * n
        df = pd.DataFrame(data)
        df["se_ratio"] = df["se_ratio"].astype(float)
        return df

    # --- description --------------------------------------------------------------------------

    def describe(self) -> str:
        """A multi-line description: network fields, domains and distributions, constraints, size."""
        lines = [
            f"{self.name} ({self.kind} space{', extends ' + self.parent if self.parent else ''})"
        ]
        if self.description:
            lines.append(f"  {self.description}")
        lines.append(f"  source: {self.source}")
        lines.append("  network: " + ", ".join(f"{k}={v}" for k, v in self.network.items()))
        if self.kind == "anynet":
            lines.append(f"  stages: {self.stages}, strides: {list(self.strides)}")
        lines.append("  parameters:")
        for k, p in self.parameters.items():
            tag = {"shared": " [shared]", "non_decreasing": " [non-decreasing]"}.get(
                self.rule(k), ""
            )
            lines.append(f"    {k:<17} {p.describe()}{tag}")
        if self.kind == "regnet":
            lines.append(
                f"  constraints: num_stages in {list(self.num_stages)} (and no empty quantization stage)"
            )
        else:
            cons = [f"shared {x}" for x in self.shared] + [
                f"non-decreasing {x}" for x in self.non_decreasing
            ]
            cons += [f"non-increasing {x}" for x in self.non_increasing]
            lines.append(f"  constraints: {', '.join(cons) or 'none'}")
        if self.ranges:
            lines.append(f"  ranges: {derived.describe(self.ranges)}")
        paper = f" (paper: {self.paper_size:.1e})" if self.paper_size else ""
        lines.append(
            f"  size: {self.size:,} = {self.size:.2e}{paper}; degrees of freedom: {self.degrees_of_freedom}"
        )
        return "\n".join(lines)


def space_rng(seed: int, space: str) -> np.random.Generator:
    """The random stream of ``space`` under ``seed``: keyed on both, so that two spaces sampled
    with one seed draw independent populations (the independence every KS p-value assumes)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DsdError(f"seed must be a non-negative integer, got {seed!r}")
    key = int.from_bytes(hashlib.blake2b(space.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(np.random.SeedSequence([int(seed), key]))


def draw_conditioned(
    p: Param, rng: np.random.Generator, count: int, stages: int, rule: str = ""
) -> np.ndarray:
    """``count`` draws of a per-stage parameter, shape ``(count, stages)``, under a constraint ``rule``.

    - ``""``: independent draws from ``p``'s distribution.
    - ``"shared"``: the independent draws conditioned on all stages being equal:
      ``P(v) ∝ p(v) ** stages`` (for a uniform domain, as the built-in b and g, one uniform draw).
    - ``"non_decreasing"``: the independent draws conditioned on ``v_1 <= ... <= v_S``, exactly:
      ``P(v) ∝ prod_i p(v_i)`` over non-decreasing sequences, drawn stage by stage with
      ``P(v_i = x | v_{i-1}) ∝ p(x) Z_{S-i}(x)`` for ``x >= v_{i-1}``, where ``Z_t(x)`` is the
      weight of the non-decreasing tails of length ``t`` starting at or above ``x``. Sorting
      independent draws instead (order statistics) gives a different distribution with fewer ties.
    """
    if rule == "":
        return p.draw(rng, (count, stages))
    values, probs = p.pmf()
    if rule == "shared":
        w = probs**stages
        idx = rng.choice(len(values), size=(count, 1), p=w / w.sum())
        return np.broadcast_to(values[idx], (count, stages))
    if rule != "non_decreasing":
        raise ValueError(f"unknown constraint rule {rule!r}")
    m = len(values)
    # tails[t][x] = Z_t(x): total weight of non-decreasing sequences of length t, all >= values[x].
    tails = [np.ones(m)]
    for _ in range(stages - 1):
        tails.append(np.cumsum((probs * tails[-1])[::-1])[::-1])
    u = rng.random((count, stages))
    out = np.empty((count, stages), dtype=np.int64)
    low = np.zeros(count, dtype=np.int64)
    for i in range(stages):
        cum = np.concatenate([[0.0], np.cumsum(probs * tails[stages - 1 - i])])
        start, total = cum[low], cum[-1]
        target = start + u[:, i] * (total - start)
        idx = np.searchsorted(cum, target, side="right") - 1
        out[:, i] = low = np.clip(idx, low, m - 1)
    return values[out]


def _shortfall(
    name: str, n: int, stats: SampleStats, ranges: dict[str, tuple[float, float]]
) -> str:
    """What a sampler that could not find ``n`` models reached, in one line."""
    regime = ", ".join(f"{k} {_si(lo)}..{_si(hi)}" for k, (lo, hi) in ranges.items()) or "no range"
    return (
        f"{name}: found only {stats.kept} of {n} distinct models with {regime} after "
        f"{stats.drawn:,} draws ({stats.in_range:,} in range); widen the range or lower n"
    )


def _check_range(name: str, r) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in r)
    except (TypeError, ValueError):
        raise DsdError(f"{name}: expected a (low, high) pair, got {r!r}") from None
    if not (lo <= hi) or math.isnan(lo):
        raise DsdError(f"{name}: reversed or empty range {_si(lo)}:{_si(hi)}")
    return lo, hi


def _si(x: float) -> str:
    for unit, f in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= f:
            return f"{x / f:g}{unit}"
    return f"{x:g}"


def _new_rows(sel: dict[str, np.ndarray], keys: set[bytes], limit: int) -> np.ndarray:
    """Indices of rows (in order) whose configuration was not seen before, at most ``limit``."""
    if limit <= 0 or len(sel["depths"]) == 0:
        return np.zeros(0, dtype=np.int64)
    mat = np.concatenate(
        [
            sel["depths"],
            sel["built_widths"],
            sel["built_group_widths"],
            (sel["bottleneck_ratios"] * 1024).astype(np.int64),
        ],
        axis=1,
    )
    mat = np.ascontiguousarray(mat)
    take = []
    for i in range(len(mat)):
        k = mat[i].tobytes()
        if k not in keys:
            keys.add(k)
            take.append(i)
            if len(take) == limit:
                break
    return np.asarray(take, dtype=np.int64)


# --- building a Space from files ----------------------------------------------------------------


def load_space(ref: str | os.PathLike) -> Space:
    """A space by built-in name (``'AnyNetXC'``, case-insensitive) or by YAML path.

    Every check lives in :func:`dsd.spaces.loader.check_space`; this builds the object.
    """
    chain = loader.load_chain(ref)
    fields = loader.check_space(chain)
    parameters = {k: Param(k, **spec) for k, spec in fields.pop("parameters").items()}
    space = Space(parameters=parameters, **fields)
    loader.check_nonempty(space)
    return dataclasses.replace(space, added=_added(space, chain))


def _added(space: Space, chain) -> str:
    """What this space adds to its parent, in words (for ``dsd spaces``)."""
    if len(chain) < 2:
        return "none"
    parent = load_space(chain[-2][0])
    out = [f"shared {x}" for x in space.shared if x not in parent.shared]
    out += [f"non-decreasing {x}" for x in space.non_decreasing if x not in parent.non_decreasing]
    for k, p in space.parameters.items():
        if p != parent.parameters.get(k):
            out.append(f"{k} in {p.short()}")
    for k, v in space.network.items():
        if parent.network.get(k) != v:
            out.append(f"{k}={v}")
    out += [f"non-increasing {x}" for x in space.non_increasing if x not in parent.non_increasing]
    out += [derived.describe((r,)) for r in space.ranges if r not in parent.ranges]
    if space.num_stages != parent.num_stages:
        out.append(f"num_stages {list(space.num_stages)}")
    return "; ".join(out) or "none"


def list_spaces() -> list[Space]:
    """The built-in spaces."""
    return [load_space(name) for name in loader.builtin_names()]
