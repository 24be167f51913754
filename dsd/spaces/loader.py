"""Loading and validating design-space files (``spaces/*.yaml``), with ``extends:``.

A space file is a mapping::

    name: AnyNetXB                 # optional; defaults to the file's stem
    extends: AnyNetXA              # a built-in name or a path (relative to this file)
    description: b_i shared by all stages
    paper_size: 6.8e16             # the paper's Table 1 figure, shown beside the exact size
    kind: anynet                   # anynet | regnet (inherited)
    stages: 4                      # anynet only
    strides: 2                     # a scalar or one value a stage
    network: {stem: simple_stem_in, stem_width: 32, block: res_bottleneck_block,
              se_ratio: 0.0, head_width: 0, num_classes: 1000, resolution: 224}
    params:                        # anynet: depth, width, bottleneck_ratio, group_width
      depth: {low: 1, high: 16, q: 1, dist: log_uniform}          # regnet: + w0, wa, wm
      group_width: {values: [1, 2, 4, 8, 16, 32]}
    constraints:
      shared: [bottleneck_ratio]   # one value for every stage
      non_decreasing: [width]      # w_{i+1} >= w_i
      num_stages: [4, 4]           # regnet only: keep settings with this many stages
      non_increasing: [depth]      # x_{i+1} <= x_i (keeps the parent's draws that satisfy it)
      ranges:                      # bounds on quantities of the drawn design (null: open side)
        d: [null, 20]              # total depth; see dsd.spaces.derived for every quantity
        w1: [16, null]

A child deep-merges over its parent: ``network`` keys and ``params`` entries replace the
parent's, the ``shared``, ``non_decreasing`` and ``non_increasing`` lists add to them, and
``ranges`` on the same quantity intersect.
Every problem is a
:class:`~dsd.errors.SpaceError` naming the file, the key and what is allowed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dsd.errors import SpaceError
from dsd.io import load_yaml
from dsd.nets.config import BLOCKS, STEMS
from dsd.spaces import derived
from dsd.spaces.derived import _is_number

TOP_KEYS = (
    "name",
    "extends",
    "description",
    "paper_size",
    "kind",
    "stages",
    "strides",
    "network",
    "params",
    "constraints",
)
KINDS = ("anynet", "regnet")
DEFAULT_NETWORK = {
    "stem": "simple_stem_in",
    "stem_width": 32,
    "block": "res_bottleneck_block",
    "se_ratio": 0.0,
    "head_width": 0,
    "num_classes": 1000,
    "resolution": 224,
}
PARAMS = {
    "anynet": ("depth", "width", "bottleneck_ratio", "group_width"),
    "regnet": ("depth", "w0", "wa", "wm", "bottleneck_ratio", "group_width"),
}
PARAM_KEYS = ("values", "low", "high", "q", "dist")
CONSTRAINT_KEYS = ("shared", "non_decreasing", "num_stages", "non_increasing", "ranges")
STAGE_PARAMS = ("depth", "width", "bottleneck_ratio", "group_width")
NETWORK_TYPES = {
    "stem": str,
    "stem_width": int,
    "block": str,
    "se_ratio": float,
    "head_width": int,
    "num_classes": int,
    "resolution": int,
}


def builtin_dir() -> Path:
    """The folder of the built-in spaces: ``$DSD_SPACES_DIR``, else the repository's ``spaces/``
    (a source checkout or editable install), else the copy a wheel ships as ``dsd/_spaces``."""
    env = os.environ.get("DSD_SPACES_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2] / "spaces"
    return repo if repo.is_dir() else Path(__file__).resolve().parents[1] / "_spaces"


def builtin_names() -> list[str]:
    """Names of the built-in spaces, in the order of the refinement (files sorted by name)."""
    d = builtin_dir()
    return [p.stem for p in sorted(d.glob("*.yaml"))] if d.is_dir() else []


def resolve(ref: str, relative_to: Path | None = None) -> Path:
    """The file of a space given by built-in name or path."""
    p = Path(ref).expanduser()
    candidates = []
    if relative_to is not None and not p.is_absolute():
        candidates.append(relative_to.parent / p)
    candidates.append(p)
    for c in candidates:
        if c.is_file():
            return c.resolve()
    builtin = builtin_dir() / f"{ref}.yaml"
    if "/" not in ref and not ref.endswith((".yaml", ".yml")):
        by_lower = {n.lower(): n for n in builtin_names()}
        if ref.lower() in by_lower:
            return (builtin_dir() / f"{by_lower[ref.lower()]}.yaml").resolve()
    if builtin.is_file():
        return builtin.resolve()
    where = f"{relative_to}: extends: " if relative_to else ""
    raise SpaceError(
        f"{where}no space named {ref!r} (built-in: {', '.join(builtin_names())}) and no such file"
    )


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse one space file into a mapping, with one-line errors (and dsd.io.load_yaml's limits
    on size, encoding, depth and alias expansion)."""
    data = load_yaml(path, SpaceError)
    if data is None:
        raise SpaceError(f"{path}: empty file (expected a mapping with keys {', '.join(TOP_KEYS)})")
    if not isinstance(data, dict):
        raise SpaceError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise SpaceError(f"{path}: unknown key {unknown[0]!r} (allowed: {', '.join(TOP_KEYS)})")
    return data


def load_chain(ref: str | os.PathLike) -> list[tuple[Path, dict[str, Any]]]:
    """The files from the root ancestor to ``ref``, each parsed; detects cycles."""
    chain: list[tuple[Path, dict[str, Any]]] = []
    seen: list[Path] = []
    path = resolve(str(ref))
    while True:
        if path in seen:
            cycle = " -> ".join(p.name for p in [*seen, path])
            raise SpaceError(f"{seen[0]}: extends forms a cycle ({cycle})")
        seen.append(path)
        data = read_yaml(path)
        chain.append((path, data))
        parent = data.get("extends")
        if parent is None:
            break
        if not isinstance(parent, str) or not parent:
            raise SpaceError(
                f"{path}: extends: expected a space name or a file path, got {parent!r}"
            )
        path = resolve(parent, relative_to=path)
    return chain[::-1]


def merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """The child's keys over the base's (see the module docstring for the rules)."""
    out = {
        k: v for k, v in base.items() if k not in ("name", "description", "paper_size", "extends")
    }
    for k, v in child.items():
        if k in ("network", "params") and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        elif k == "constraints" and isinstance(v, dict) and isinstance(out.get(k), dict):
            merged = dict(out[k])
            for ck, cv in v.items():
                if (
                    ck in ("shared", "non_decreasing", "non_increasing")
                    and isinstance(cv, list)
                    and isinstance(merged.get(ck), list)
                ):
                    merged[ck] = [*merged[ck], *[x for x in cv if x not in merged[ck]]]
                elif ck == "ranges" and isinstance(cv, dict) and isinstance(merged.get(ck), dict):
                    merged[ck] = derived.merge_ranges(merged[ck], cv)
                else:
                    merged[ck] = cv
            out[k] = merged
        else:
            out[k] = v
    return out


# --- validation ---------------------------------------------------------------------------------


def check_network(path: Path, network: Any) -> dict[str, Any]:
    """Validate the ``network`` mapping."""
    if not isinstance(network, dict):
        raise SpaceError(f"{path}: network: expected a mapping of {', '.join(NETWORK_TYPES)}")
    out = {}
    for k, v in network.items():
        if k not in NETWORK_TYPES:
            raise SpaceError(
                f"{path}: network: unknown key {k!r} (allowed: {', '.join(NETWORK_TYPES)})"
            )
        want = NETWORK_TYPES[k]
        if want is str and not isinstance(v, str):
            raise SpaceError(f"{path}: network.{k}: expected a string, got {v!r}")
        if want is int and (not isinstance(v, int) or isinstance(v, bool)):
            raise SpaceError(f"{path}: network.{k}: expected an integer, got {v!r}")
        if want is float and not _is_number(v):
            raise SpaceError(f"{path}: network.{k}: expected a number, got {v!r}")
        out[k] = v
    if "stem" in out and out["stem"] not in STEMS:
        raise SpaceError(
            f"{path}: network.stem: {out['stem']!r} is not a stem (allowed: {', '.join(STEMS)})"
        )
    if "block" in out and out["block"] not in BLOCKS:
        raise SpaceError(
            f"{path}: network.block: {out['block']!r} is not a block (allowed: {', '.join(BLOCKS)})"
        )
    for k in ("stem_width", "num_classes", "resolution"):
        if k in out and out[k] < 1:
            raise SpaceError(f"{path}: network.{k}: must be >= 1, got {out[k]}")
    for k in ("se_ratio", "head_width"):
        if k in out and out[k] < 0:
            raise SpaceError(f"{path}: network.{k}: must be >= 0, got {out[k]}")
    return out


def check_param(path: Path, name: str, spec: Any) -> dict[str, Any]:
    """Validate one ``params`` entry; returns the normalised spec."""
    key = f"{path}: params.{name}"
    if not isinstance(spec, dict):
        raise SpaceError(f"{key}: expected a mapping with 'values' or 'low'/'high' (+ 'q', 'dist')")
    for k in spec:
        if k not in PARAM_KEYS:
            raise SpaceError(f"{key}: unknown key {k!r} (allowed: {', '.join(PARAM_KEYS)})")
    if "values" in spec:
        extra = [k for k in ("low", "high", "q") if k in spec]
        if extra:
            raise SpaceError(f"{key}: give either 'values' or 'low'/'high', not both")
        vals = spec["values"]
        if not isinstance(vals, list):
            raise SpaceError(f"{key}.values: expected a list of numbers, got {vals!r}")
        if not vals:
            raise SpaceError(f"{key}.values: empty domain (give at least one value)")
        bad = [v for v in vals if not _is_number(v) or v <= 0]
        if bad:
            raise SpaceError(f"{key}.values: {bad[0]!r} is not a positive number")
        if spec.get("dist", "uniform") != "uniform":
            raise SpaceError(
                f"{key}.dist: a 'values' domain is drawn 'uniform', got {spec['dist']!r}"
            )
        return {"values": tuple(vals), "dist": "uniform"}
    for k in ("low", "high"):
        if k not in spec:
            raise SpaceError(
                f"{key}: missing '{k}' (a range needs 'low' and 'high'; or give 'values')"
            )
        if not _is_number(spec[k]):
            raise SpaceError(f"{key}.{k}: expected a number, got {spec[k]!r}")
    q = spec.get("q", 1)
    if not _is_number(q) or q <= 0:
        raise SpaceError(f"{key}.q: expected a positive number, got {q!r}")
    low, high = spec["low"], spec["high"]
    if low <= 0:
        raise SpaceError(f"{key}.low: must be > 0, got {low}")
    if low > high:
        raise SpaceError(f"{key}: reversed range low={low} > high={high}")
    dist = spec.get("dist", "uniform")
    if dist not in ("uniform", "log_uniform"):
        raise SpaceError(
            f"{key}.dist: unknown distribution {dist!r} (allowed: uniform, log_uniform)"
        )
    return {"low": low, "high": high, "q": q, "dist": dist}


def check_constraints(path: Path, kind: str, c: Any, stages: int = 4) -> dict[str, Any]:
    """Validate the ``constraints`` mapping."""
    if c is None:
        return {}
    if not isinstance(c, dict):
        raise SpaceError(f"{path}: constraints: expected a mapping of {', '.join(CONSTRAINT_KEYS)}")
    for k, v in c.items():
        if k not in CONSTRAINT_KEYS:
            raise SpaceError(
                f"{path}: constraints: unknown key {k!r} (allowed: {', '.join(CONSTRAINT_KEYS)})"
            )
        if k in ("shared", "non_decreasing"):
            allowed = STAGE_PARAMS if kind == "anynet" else ()
            if not isinstance(v, list):
                raise SpaceError(f"{path}: constraints.{k}: expected a list of parameter names")
            for x in v:
                if x not in allowed:
                    what = (
                        ", ".join(allowed) if allowed else "nothing (RegNet stages are generated)"
                    )
                    raise SpaceError(
                        f"{path}: constraints.{k}: {x!r} not allowed (allowed: {what})"
                    )
        if k == "num_stages":
            ok = (
                isinstance(v, list)
                and len(v) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in v)
            )
            if not ok:
                raise SpaceError(
                    f"{path}: constraints.num_stages: expected [min, max] positive integers, got {v!r}"
                )
            if v[0] > v[1]:
                raise SpaceError(f"{path}: constraints.num_stages: reversed range {v}")
            if kind != "regnet":
                raise SpaceError(
                    f"{path}: constraints.num_stages: only for regnet spaces (use 'stages' for anynet)"
                )
    shared, nondec = set(c.get("shared", [])), set(c.get("non_decreasing", []))
    both = shared & nondec
    if both:
        raise SpaceError(
            f"{path}: constraints: {sorted(both)[0]!r} is both shared and non_decreasing"
        )
    derived.check(path, kind, stages, c)
    return c


# --- the whole space ------------------------------------------------------------------------


def check_space(chain: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """The validated fields of a :class:`~dsd.spaces.Space` from its ``extends`` chain.

    ``parameters`` maps each parameter to the keyword arguments of a
    :class:`~dsd.spaces.params.Param`. Every problem is a :class:`SpaceError` naming the file,
    the key and what is allowed.
    """
    merged: dict[str, Any] = {}
    for _, data in chain:
        merged = merge(merged, data)
    path, own = chain[-1]
    parent = None
    if len(chain) > 1:
        ppath, pdata = chain[-2]
        parent = pdata.get("name") or ppath.stem
    name = own.get("name") or path.stem
    if not isinstance(name, str):
        raise SpaceError(f"{path}: name: expected a string, got {name!r}")
    kind = merged.get("kind", "anynet")
    if kind not in KINDS:
        raise SpaceError(f"{path}: kind: {kind!r} not allowed (allowed: {', '.join(KINDS)})")
    stages = merged.get("stages", 4)
    if not isinstance(stages, int) or isinstance(stages, bool) or stages < 1:
        raise SpaceError(f"{path}: stages: expected a positive integer, got {stages!r}")
    cons = check_constraints(path, kind, merged.get("constraints"), stages)
    return {
        "name": name,
        "kind": kind,
        "parameters": check_params(path, kind, merged.get("params")),
        "network": {**DEFAULT_NETWORK, **check_network(path, merged.get("network", {}))},
        "stages": stages,
        "strides": check_strides(path, merged.get("strides", 2), stages),
        "shared": tuple(cons.get("shared", ())),
        "non_decreasing": tuple(cons.get("non_decreasing", ())),
        "num_stages": tuple(cons.get("num_stages", [4, 4])),
        "non_increasing": tuple(cons.get("non_increasing", ())),
        "ranges": derived.as_tuple(cons.get("ranges")),
        "description": _check_description(path, own.get("description", "")),
        "parent": parent,
        "paper_size": _check_paper_size(path, own.get("paper_size")),
        "source": str(path),
    }


def check_strides(path: Path, strides: Any, stages: int) -> tuple[int, ...]:
    """A positive stride, or one a stage, as a tuple of ``stages`` strides."""
    if isinstance(strides, int) and not isinstance(strides, bool) and strides >= 1:
        return (strides,) * stages
    if (
        isinstance(strides, list)
        and len(strides) == stages
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in strides)
    ):
        return tuple(strides)
    raise SpaceError(
        f"{path}: strides: expected a positive integer or a list of {stages}, got {strides!r}"
    )


def check_params(path: Path, kind: str, raw: Any) -> dict[str, dict[str, Any]]:
    """Every parameter of a ``kind`` space, checked: exactly the allowed names, sane domains."""
    from dsd.spaces.params import Param

    allowed = PARAMS[kind]
    if not isinstance(raw, dict):
        raise SpaceError(f"{path}: params: expected a mapping of {', '.join(allowed)}")
    for k in raw:
        if k not in allowed:
            raise SpaceError(
                f"{path}: params: unknown parameter {k!r} for a {kind} space (allowed: {', '.join(allowed)})"
            )
    missing = [k for k in allowed if k not in raw]
    if missing:
        raise SpaceError(f"{path}: params: missing {', '.join(missing)}")
    specs = {k: check_param(path, k, raw[k]) for k in allowed}
    params = {k: Param(k, **spec) for k, spec in specs.items()}
    for k in ("depth", "width", "group_width", "w0"):
        if k in params and not params[k].is_int:
            raise SpaceError(f"{path}: params.{k}: must take integer values")
        if k in params and params[k].count() == 0:
            raise SpaceError(
                f"{path}: params.{k}: empty domain (no multiple of q between low and high)"
            )
    if kind == "regnet":
        if params["w0"].values is None and params["w0"].q % 8:
            raise SpaceError(
                f"{path}: params.w0.q: must be a multiple of 8 (RegNet widths are multiples of 8)"
            )
        if params["wm"].grid()[0] <= 1:
            raise SpaceError(f"{path}: params.wm: must be > 1")
    return specs


def check_nonempty(space: Any) -> None:
    """Refuse a space whose derived constraints leave no configuration."""
    if (space.ranges or space.non_increasing) and space.size == 0:
        raise SpaceError(f"{space.source}: constraints: no configuration satisfies them all")


def _check_paper_size(path: Path, paper: Any) -> float | None:
    if paper is None:
        return None
    if not isinstance(paper, (int, float)) or isinstance(paper, bool):
        try:
            paper = float(paper)
        except (TypeError, ValueError):
            raise SpaceError(f"{path}: paper_size: expected a number, got {paper!r}") from None
    return float(paper)


def _check_description(path: Path, desc: Any) -> str:
    if not isinstance(desc, str):
        raise SpaceError(f"{path}: description: expected a string")
    return desc
