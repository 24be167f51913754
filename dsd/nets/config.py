"""The AnyNet configuration: what a network *is*, as a frozen, validated value.

An AnyNet (DDS §3.2) is a stem, a body of stages and a head. Stage ``i`` has ``d_i`` identical
blocks of width ``w_i``; the first block of a stage has stride ``s_i``. For the X block the
bottleneck ratio ``b_i`` (bottleneck width = ``w_i / b_i``) and the group width ``g_i`` apply.

Construction applies the reference implementation's compatibility rule
(:func:`adjust_compatibility`) to bottleneck blocks, so ``net.widths`` and ``net.group_widths`` are
what is built and counted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from dsd.errors import DsdError
from dsd.nets.costs import BLOCK_COSTS
from dsd.nets.costs import STEMS as STEM_TABLE

#: The stem and block names (the tables themselves are in :mod:`dsd.nets.costs`).
STEMS = tuple(STEM_TABLE)
BLOCKS = tuple(BLOCK_COSTS)
#: The per-stage fields of an AnyNet, in order.
STAGE_FIELDS = ("depths", "widths", "group_widths", "bottleneck_ratios", "strides")
MAX_RESOLUTION = 8192  # input side; 224 in the paper
#: The network-level fields of an AnyNet.
NET_FIELDS = ("stem", "stem_width", "block", "se_ratio", "head_width", "num_classes", "resolution")


def adjust_compatibility(widths, bottleneck_ratios, group_widths):
    """Make widths, bottleneck ratios and group widths compatible, as the reference does.

    With the bottleneck multiplier ``m = 1 / b`` (so the bottleneck width is ``w * m``), per stage::

        v = int(max(1, w * m)); g = min(g, v)
        q = lcm(g, int(m)) if m > 1 else g
        v = max(q, round(v / q) * q)          # round half to even, like Python's round
        w = int(v / m)

    Works elementwise on scalars or numpy arrays of any (broadcastable) shape; returns
    ``(widths, group_widths)`` as int64 arrays. The bottleneck ratios are unchanged.
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


def _per_stage(name: str, value: Any, n: int | None, kind: type) -> tuple:
    """Normalise a per-stage field: a scalar applies to every stage."""
    if isinstance(value, (str, bytes)) or isinstance(value, Mapping):
        raise DsdError(f"AnyNet.{name}: expected a number or a list of numbers, got {value!r}")
    if isinstance(value, (Sequence, np.ndarray)):
        values = list(np.asarray(value).tolist())
    else:
        if n is None:
            raise DsdError(f"AnyNet.{name}: a scalar needs the number of stages from depths")
        values = [value] * n
    if n is not None and len(values) != n:
        raise DsdError(f"AnyNet.{name}: {len(values)} values for {n} stages")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise DsdError(f"AnyNet.{name}: {v!r} is not a number")
        if kind is int:
            if float(v) != int(v):
                raise DsdError(f"AnyNet.{name}: {v!r} is not an integer")
            out.append(int(v))
        else:
            out.append(float(v))
    return tuple(out)


class StagedNet:
    """What every network family's frozen config shares: per-stage fields, a dict form, rebuilding
    from a samples row, validated copies. A family sets ``STAGE_FIELDS`` (its list-valued fields)."""

    STAGE_FIELDS: ClassVar[tuple[str, ...]] = ()
    depths: tuple[int, ...]

    @property
    def num_stages(self) -> int:
        """Number of stages of the body."""
        return len(self.depths)

    @property
    def depth(self) -> int:
        """Total number of blocks."""
        return sum(self.depths)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (lists for per-stage fields)."""
        d = dataclasses.asdict(self)  # type: ignore[call-overload]
        for k in self.STAGE_FIELDS:
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]):
        """Build from any mapping with the fields (extra keys, e.g. of a samples row, ignored)."""
        missing = [k for k in ("depths", "widths") if k not in row]
        if missing:
            raise DsdError(f"cannot build an {cls.__name__}: missing {', '.join(missing)}")
        kwargs = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in row:
                v = row[f.name]
                kwargs[f.name] = v.item() if isinstance(v, np.generic) else v
        return cls(**kwargs)

    def replace(self, **changes: Any):
        """A copy with some fields changed (validated, and adjusted, again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def hash_json(d: Mapping[str, Any]) -> str:
    """16 hex characters of the sha1 of canonical JSON (sorted keys, no spaces): a stable id."""
    text = json.dumps(d, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class AnyNet(StagedNet):
    """An AnyNet: stem, per-stage (depth, width, group width, bottleneck ratio, stride), head.

    Per-stage fields accept a list (one value a stage) or a scalar (the same for every stage);
    ``depths`` sets the number of stages (one or more). ``bottleneck_ratios`` is the paper's
    ``b``: the bottleneck width is ``w / b`` (``b < 1`` gives an inverted bottleneck).
    ``se_ratio > 0`` turns the X block into the Y block (squeeze-and-excitation of width
    ``round(se_ratio * w_in)``). ``head_width > 0`` adds a 1x1 conv before pooling.
    """

    STAGE_FIELDS: ClassVar[tuple[str, ...]] = STAGE_FIELDS

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

    def __post_init__(self) -> None:
        depths = _per_stage("depths", self.depths, None, int)
        n = len(depths)
        if n < 1:
            raise DsdError("AnyNet.depths: at least one stage is needed")
        widths = _per_stage("widths", self.widths, n, int)
        gws = _per_stage("group_widths", self.group_widths, n, int)
        bs = _per_stage("bottleneck_ratios", self.bottleneck_ratios, n, float)
        strides = _per_stage("strides", self.strides, n, int)
        for name, vals in (
            ("depths", depths),
            ("widths", widths),
            ("group_widths", gws),
            ("strides", strides),
        ):
            if any(v < 1 for v in vals):
                raise DsdError(f"AnyNet.{name}: every value must be >= 1, got {list(vals)}")
        for b in bs:
            m = 1.0 / b if b > 0 else 0.0
            if not (b > 0 and math.isfinite(b)) or (m > 1 and m != int(m)):
                raise DsdError(
                    f"AnyNet.bottleneck_ratios: {b!r} not allowed (need b > 0, and 1/b an integer when b < 1)"
                )
        if self.stem not in STEMS:
            raise DsdError(f"AnyNet.stem: unknown stem {self.stem!r} (allowed: {', '.join(STEMS)})")
        if self.block not in BLOCKS:
            raise DsdError(
                f"AnyNet.block: unknown block {self.block!r} (allowed: {', '.join(BLOCKS)})"
            )
        for name in ("stem_width", "num_classes", "resolution"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise DsdError(f"AnyNet.{name}: must be a positive integer, got {v!r}")
        if self.resolution > MAX_RESOLUTION:  # an image that large cannot be held in memory
            raise DsdError(f"AnyNet.resolution: at most {MAX_RESOLUTION}, got {self.resolution}")
        hw = self.head_width
        if isinstance(hw, bool) or not isinstance(hw, (int, np.integer)) or hw < 0:
            raise DsdError(f"AnyNet.head_width: must be an integer >= 0, got {hw!r}")
        se = self.se_ratio
        if (
            isinstance(se, bool)
            or not isinstance(se, (int, float, np.number))
            or not 0 <= se < math.inf
        ):
            raise DsdError(f"AnyNet.se_ratio: must be a number >= 0, got {se!r}")
        if self.block == "res_bottleneck_block":
            w_adj, g_adj = adjust_compatibility(widths, bs, gws)
            widths, gws = tuple(int(x) for x in w_adj), tuple(int(x) for x in g_adj)
        elif se > 0:
            raise DsdError(
                f"AnyNet.se_ratio: SE is only defined for res_bottleneck_block, not {self.block}"
            )
        set_ = object.__setattr__
        set_(self, "depths", depths)
        set_(self, "widths", widths)
        set_(self, "group_widths", gws)
        set_(self, "bottleneck_ratios", bs)
        set_(self, "strides", strides)
        for name in ("stem_width", "head_width", "num_classes", "resolution"):
            set_(self, name, int(getattr(self, name)))
        set_(self, "se_ratio", float(se))

    @property
    def model_id(self) -> str:
        """A stable 16-hex-character hash of the configuration."""
        return config_hash(self.to_dict())


def config_hash(d: Mapping[str, Any]) -> str:
    """Stable hash of an AnyNet dict: canonical JSON (sorted keys), sha1, 16 hex chars."""
    canon = {k: d[k] for k in (*STAGE_FIELDS, *NET_FIELDS)}
    canon["bottleneck_ratios"] = [float(b) for b in canon["bottleneck_ratios"]]
    canon["se_ratio"] = float(canon["se_ratio"])
    return hash_json(canon)
