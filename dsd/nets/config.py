"""The AnyNet config (DDS §3.2): the design as given and the network built from it, frozen and
checked against :data:`LIMITS` (docs/GLOSSARY.md: design vs built)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np

from dsd.errors import DsdError
from dsd.nets.costs import BLOCK_COSTS
from dsd.nets.costs import STEMS as STEM_TABLE

STEMS = tuple(STEM_TABLE)
BLOCKS = tuple(BLOCK_COSTS)
STAGE_FIELDS = ("depths", "widths", "group_widths", "bottleneck_ratios", "strides")
NET_FIELDS = ("stem", "stem_width", "block", "se_ratio", "head_width", "num_classes", "resolution")

#: Inclusive upper bounds: generous beyond any published network, small enough for int64 counts.
LIMITS = {
    "stages": 64,
    "depth": 1024,
    "width": 65_536,
    "stride": 64,
    "ratio": 1024,
    "classes": 1_000_000,
    "resolution": 8192,
    "se_ratio": 1.0,
    "kernel": 31,
}
MAX_RESOLUTION = LIMITS["resolution"]


class Bound(NamedTuple):
    """What one field accepts: a number from ``low`` to ``high``, or one of ``names``."""

    kind: type = int
    low: float = 1
    high: float = LIMITS["width"]
    open_high: bool = False
    names: tuple[str, ...] = ()


def _value(owner: str, name: str, v: Any, bound: Bound) -> Any:
    """``v`` checked against ``bound`` (as a Python int, float or str); DsdError naming the field."""
    if bound.names:
        if isinstance(v, str) and v in bound.names:
            return v
        raise DsdError(f"{owner}.{name}: unknown {name} {v!r} (allowed: {', '.join(bound.names)})")
    ok = not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating))
    if ok and bound.kind is int and not isinstance(v, (int, np.integer)):
        if not (math.isfinite(v) and float(v).is_integer()):
            raise DsdError(f"{owner}.{name}: {v!r} is not an integer")
    if ok:
        v = int(v) if bound.kind is int else float(v)
        ok = bound.low <= v and (v < bound.high if bound.open_high else v <= bound.high)
    if not ok:
        if bound.kind is int:
            what = f"an integer from {int(bound.low):,} to {int(bound.high):,}"
        else:
            what = f"a number from {bound.low:g} to {bound.high:g}"
            what += " (excluded)" if bound.open_high else ""
        raise DsdError(f"{owner}.{name}: must be {what}, got {v!r}"[:300])
    return v


def _stage_values(owner: str, name: str, value: Any, n: int | None, bound: Bound) -> tuple:
    """A per-stage field as a tuple of ``n`` checked values (a scalar applies to every stage)."""
    value = value.tolist() if isinstance(value, np.ndarray) else value
    if isinstance(value, (str, bytes, Mapping)):
        raise DsdError(f"{owner}.{name}: expected a number or a list of numbers, got {value!r}")
    if isinstance(value, Sequence):
        values = list(value)
    elif n is None:
        raise DsdError(f"{owner}.{name}: a scalar needs the number of stages from depths")
    else:
        values = [value] * n
    if n is None and not 1 <= len(values) <= LIMITS["stages"]:
        raise DsdError(f"{owner}.{name}: 1 to {LIMITS['stages']} stages, got {len(values)}")
    if n is not None and len(values) != n:
        raise DsdError(f"{owner}.{name}: {len(values)} values for {n} stages")
    return tuple(_value(owner, name, v, bound) for v in values)


class StagedNet:
    """A network family's frozen config, its fields checked against ``STAGE_BOUNDS`` (per stage,
    ``depths`` first) and ``NET_BOUNDS``."""

    STAGE_BOUNDS: ClassVar[dict[str, Bound]] = {}
    NET_BOUNDS: ClassVar[dict[str, Bound]] = {}
    depths: tuple[int, ...]

    def _checked(self) -> dict[str, Any]:
        """Every declared field, normalised (tuples, Python numbers) and checked."""
        owner = type(self).__name__
        values: dict[str, Any] = {}
        for name, bound in self.STAGE_BOUNDS.items():
            n = len(values["depths"]) if values else None
            values[name] = _stage_values(owner, name, getattr(self, name), n, bound)
        for name, bound in self.NET_BOUNDS.items():
            values[name] = _value(owner, name, getattr(self, name), bound)
        return values

    def _set(self, values: Mapping[str, Any]) -> None:
        for k, v in values.items():
            object.__setattr__(self, k, v)

    @property
    def num_stages(self) -> int:
        """Number of stages."""
        return len(self.depths)

    @property
    def depth(self) -> int:
        """Total number of blocks."""
        return sum(self.depths)

    def to_dict(self) -> dict[str, Any]:
        """Every field as a JSON-able dict (lists for per-stage fields)."""
        d = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]):
        """Build from a mapping with the fields (extra keys ignored)."""
        missing = [k for k in ("depths", "widths") if k not in row]
        if missing:
            raise DsdError(f"cannot build an {cls.__name__}: missing {', '.join(missing)}")
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        v = {f.name: row[f.name] for f in fields if f.init and f.name in row}
        return cls(**{k: x.item() if isinstance(x, np.generic) else x for k, x in v.items()})

    def replace(self, **changes: Any):
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def hash_json(d: Mapping[str, Any]) -> str:
    """16 hex characters of the sha1 of canonical JSON: a stable id."""
    return hashlib.sha1(_CANONICAL.encode(d).encode()).hexdigest()[:16]


def hash_rows(columns: Mapping[str, Sequence], fixed: Mapping[str, Any]) -> list[str]:
    """:func:`hash_json` of ``{**fixed, k: columns[k][i] ...}`` for each row ``i``, without a dict
    or an encoder call a row: a column holds Python ints, finite floats or lists of them, whose
    canonical JSON is their ``repr`` without spaces; one column at least, all of one length."""
    if not columns:
        raise ValueError("hash_rows: no columns (one at least gives the number of rows)")
    n = len(next(iter(columns.values())))
    if any(len(col) != n for col in columns.values()):
        lengths = {k: len(col) for k, col in columns.items()}
        raise ValueError(f"hash_rows: columns of unequal lengths {lengths}")
    first = [col[0] for col in columns.values() if len(col)]
    leaves = [x for v in first for x in (v if isinstance(v, list) else [v])]
    if not all(type(x) is int or (type(x) is float and math.isfinite(x)) for x in leaves):
        raise TypeError("hash_rows: columns hold Python ints, finite floats or lists of them")
    keys = sorted({*columns, *fixed})
    heads = [_CANONICAL.encode(k) + ":" for k in keys]
    texts = [
        [repr(v).replace(" ", "") for v in columns[k]]
        if k in columns
        else itertools.repeat(_CANONICAL.encode(fixed[k]), n)
        for k in keys
    ]
    rows = ("{" + ",".join(h + t for h, t in zip(heads, row)) + "}" for row in zip(*texts))
    return [hashlib.sha1(text.encode()).hexdigest()[:16] for text in rows]


def adjust_compatibility(widths, bottleneck_ratios, group_widths):
    """The built ``(widths, group_widths)`` (int64 arrays, elementwise) by the reference's rule.

    With ``m = 1 / b``: ``v = int(max(1, w * m))``, ``g = min(g, v)``, ``q = lcm(g, int(m))`` if
    ``m > 1`` else ``g``, ``v = max(q, round(v / q) * q)`` (half to even), ``w = int(v / m)``.
    """
    w = np.asarray(widths, dtype=np.float64)
    m = 1.0 / np.asarray(bottleneck_ratios, dtype=np.float64)
    g = np.asarray(group_widths, dtype=np.int64)
    v = np.maximum(1, np.trunc(w * m)).astype(np.int64)
    g = np.minimum(g, v)
    q = np.where(m > 1, np.lcm(g, np.trunc(m).astype(np.int64)), g)
    v = np.maximum(q, (np.round(v / q) * q).astype(np.int64))
    w = np.trunc(v / m).astype(np.int64)
    return w, g


WIDTH = Bound(int, 1, LIMITS["width"])


@dataclass(frozen=True)
class AnyNet(StagedNet):
    """An AnyNet: stem, per-stage (depth, width, group width, bottleneck ratio, stride), head.

    Per-stage fields take a list or a scalar (every stage); ``depths`` sets the stages. The
    bottleneck width is ``w / b`` (``b < 1``: ``1 / b`` an integer). ``se_ratio > 0`` makes the
    X block a Y block; ``head_width > 0`` adds a 1x1 conv before pooling.
    """

    STAGE_BOUNDS: ClassVar[dict[str, Bound]] = {
        "depths": Bound(int, 1, LIMITS["depth"]),
        "widths": WIDTH,
        "group_widths": WIDTH,
        "bottleneck_ratios": Bound(float, 1 / LIMITS["ratio"], LIMITS["ratio"]),
        "strides": Bound(int, 1, LIMITS["stride"]),
    }
    NET_BOUNDS: ClassVar[dict[str, Bound]] = {
        "stem": Bound(names=STEMS),
        "stem_width": WIDTH,
        "block": Bound(names=BLOCKS),
        "se_ratio": Bound(float, 0, LIMITS["se_ratio"]),
        "head_width": Bound(int, 0, LIMITS["width"]),
        "num_classes": Bound(int, 1, LIMITS["classes"]),
        "resolution": Bound(int, 1, LIMITS["resolution"]),
    }

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    group_widths: tuple[int, ...] | int = 1
    bottleneck_ratios: tuple[float, ...] | float = 1.0
    strides: tuple[int, ...] | int = 2
    stem: str = "simple_stem_in"
    stem_width: int = 32
    block: str = "res_bottleneck_block"
    se_ratio: float = 0.0
    head_width: int = 0
    num_classes: int = 1000
    resolution: int = 224
    built_widths: tuple[int, ...] = field(init=False, repr=False)
    built_group_widths: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        v = self._checked()
        for b in v["bottleneck_ratios"]:
            if b < 1 and not (1.0 / b).is_integer():
                raise DsdError(
                    f"AnyNet.bottleneck_ratios: {b!r} not allowed (1/b must be an integer when b < 1)"
                )
        built = (v["widths"], v["group_widths"])
        if v["block"] == "res_bottleneck_block":
            w, g = adjust_compatibility(v["widths"], v["bottleneck_ratios"], v["group_widths"])
            built = (tuple(w.tolist()), tuple(g.tolist()))
        elif v["se_ratio"] > 0:
            raise DsdError(
                f"AnyNet.se_ratio: SE is only defined for res_bottleneck_block, not {v['block']}"
            )
        self._set({**v, "built_widths": built[0], "built_group_widths": built[1]})

    @property
    def model_id(self) -> str:
        """A stable hash of the network as built (:func:`config_hash`)."""
        d = {**self.to_dict(), "widths": self.built_widths, "group_widths": self.built_group_widths}
        return config_hash(d)


def config_hash(d: Mapping[str, Any]) -> str:
    """Stable hash of a built AnyNet's ``STAGE_FIELDS`` and ``NET_FIELDS``. ``d["widths"]`` and
    ``d["group_widths"]`` hold the *built* values (renaming the keys would change every id)."""
    canon = {k: d[k] for k in (*STAGE_FIELDS, *NET_FIELDS)}
    canon["bottleneck_ratios"] = [float(b) for b in canon["bottleneck_ratios"]]
    canon["se_ratio"] = float(canon["se_ratio"])
    return hash_json(canon)
