"""Reading, validating and writing space files (format and bounds: docs/CONTRACTS.md, artefact 1).

A child deep-merges over its parent: ``network`` keys and ``params`` entries replace the parent's;
constraints add to the parent's. Every problem is a SpaceError naming the file, the key and what
is allowed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from dsd.errors import SpaceError
from dsd.io import atomic_path, check_output_path, load_yaml
from dsd.spaces.anynet import AnyNetSpace
from dsd.spaces.constraints import MAX_STAGES, UNCONSTRAINED, Constraints
from dsd.spaces.params import Param
from dsd.spaces.regnet import RegNetSpace
from dsd.spaces.space import DEFAULT_NETWORK, Space, check_network

TOP_KEYS = tuple(
    "name extends description paper_size kind stages strides network params constraints".split()
)
KINDS: dict[str, type[Space]] = {"anynet": AnyNetSpace, "regnet": RegNetSpace}
MAX_NAME = 100
MAX_DESCRIPTION = 1000


def builtin_dir() -> Path:
    """``$DSD_SPACES_DIR``, else ``dsd/_spaces`` (a link to ``spaces/``; in a wheel its copy)."""
    env = os.environ.get("DSD_SPACES_DIR")
    return Path(env or Path(__file__).resolve().parents[1] / "_spaces").resolve()


def builtin_names() -> list[str]:
    """Names of the built-in spaces, in the order of the refinement."""
    d = builtin_dir()
    return [p.stem for p in sorted(d.glob("*.yaml"))] if d.is_dir() else []


def resolve(ref: str | os.PathLike, relative_to: Path | None = None) -> Path:
    """The file of a space: a built-in name (any case) always, else a path (relative to the
    file ``relative_to``)."""
    by_lower = {n.lower(): n for n in builtin_names()}
    if str(ref).lower() in by_lower:
        return (builtin_dir() / f"{by_lower[str(ref).lower()]}.yaml").resolve()
    path = Path(ref).expanduser()
    if relative_to is not None and not path.is_absolute():
        path = relative_to.parent / path
    if path.is_file():
        return path.resolve()
    where = f"{relative_to}: extends: " if relative_to else ""
    if path.exists():
        raise SpaceError(f"{where}{path}: not a regular file (a space file is a YAML file)")
    close = difflib.get_close_matches(str(ref).lower(), list(by_lower), n=2, cutoff=0.6)
    guess = f"did you mean {' or '.join(by_lower[c] for c in close)}? " if close else ""
    raise SpaceError(
        f"{where}no space named {str(ref)!r} and no such file: {guess}"
        f"(built-in: {', '.join(builtin_names())})"
    )


def read_yaml(path: Path) -> dict[str, Any]:
    """One space file's mapping of known top-level keys."""
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
    """The files from the root ancestor to ``ref``, each parsed; SpaceError on a cycle."""
    chain: list[tuple[Path, dict[str, Any]]] = []
    path = resolve(ref)
    while True:
        if path in [p for p, _ in chain]:
            cycle = " -> ".join(p.name for p in [*(p for p, _ in chain), path])
            raise SpaceError(f"{chain[0][0]}: extends forms a cycle ({cycle})")
        data = read_yaml(path)
        chain.append((path, data))
        parent = data.get("extends")
        if parent is None:
            return chain[::-1]
        if not isinstance(parent, str) or not parent:
            raise SpaceError(
                f"{path}: extends: expected a space name or a file path, got {parent!r}"
            )
        path = resolve(parent, relative_to=path)


def load_space(ref: str | os.PathLike) -> Space:
    """A space by built-in name (``'AnyNetXC'``, any case) or by YAML path, validated."""
    chain = load_chain(ref)
    path, own = chain[-1]
    where = str(path)
    merged: dict[str, Any] = {}
    constraints = Constraints()
    for file, data in chain:
        for k in ("kind", "stages", "strides"):
            merged[k] = data.get(k, merged.get(k))
        for k in ("network", "params"):
            merged[k] = _merge_mapping(merged.get(k), data.get(k))
        constraints = constraints.merge(Constraints.parse(data.get("constraints"), str(file)))
    kind = merged["kind"] or "anynet"
    if kind not in KINDS:
        raise SpaceError(f"{where}: kind: {kind!r} not allowed (allowed: {', '.join(KINDS)})")
    cls = KINDS[kind]
    space = cls(
        name=check_name(where, own.get("name") or path.stem, builtin=path.parent == builtin_dir()),
        parameters=_params(where, cls, merged["params"]),
        network={**DEFAULT_NETWORK, **check_network(where, merged["network"] or {})},
        description=_description(where, own.get("description", "")),
        ancestors=tuple(data.get("name") or p.stem for p, data in reversed(chain[:-1])),
        paper_size=_paper_size(where, own.get("paper_size")),
        source=where,
        **_layout(where, cls, merged),
    ).with_constraints(constraints)
    if space.size == 0:
        raise SpaceError(f"{where}: constraints: no configuration satisfies them all")
    return dataclasses.replace(space, added=_added(space, chain))


def list_spaces() -> list[Space]:
    """The built-in spaces."""
    return [load_space(name) for name in builtin_names()]


def write_space(
    path: str | os.PathLike,
    *,
    name: str,
    extends: str | os.PathLike | Space,
    description: str = "",
    constraints: Constraints | Mapping[str, Any] = UNCONSTRAINED,
    notes: Iterable[str] = (),
) -> Space:
    """Write a space file that ``extends`` a parent (a space, name or path) and adds
    ``constraints``, ``notes`` as header comments; it replaces ``path`` only once it loads."""
    path = check_output_path(path, (".yaml", ".yml"))
    if not isinstance(constraints, Constraints):
        constraints = Constraints.parse(constraints, str(path))
    body = {
        "name": check_name(str(path), name, builtin=False),
        "extends": _reference(extends, path),
        "description": _description(str(path), description),
        "constraints": constraints.to_yaml_dict(),
    }
    header = "".join(f"# {escaped(note)}\n" for note in notes)
    text = header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=100)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        space = load_space(tmp)
    return dataclasses.replace(space, source=str(path.resolve()))


def escaped(text: str) -> str:
    """``text`` on one line: every unprintable character written as its Python escape."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text)
    )


def check_name(where: str, name: Any, builtin: bool) -> str:
    """A space's name: plain text, no ``/``; outside the built-in folder, not a built-in's."""
    if not isinstance(name, str) or not name.strip():
        raise SpaceError(f"{where}: name: expected a non-empty string, got {name!r}"[:300])
    if not name.isprintable() or any(c in name for c in "/\\") or name in (".", ".."):
        raise SpaceError(
            f"{where}: name: {escaped(name)[:120]!r} has a control character or a path "
            "separator; a space name is plain text"
        )
    if len(name) > MAX_NAME or len(name.encode()) > 2 * MAX_NAME:
        raise SpaceError(f"{where}: name: longer than {MAX_NAME} characters ({len(name)})")
    if not builtin and name.lower() in {n.lower() for n in builtin_names()}:
        raise SpaceError(
            f"{where}: name: {name!r} is a built-in space's name; give this space its own "
            "(extends: names the parent)"
        )
    return name


def _merge_mapping(base: Any, child: Any) -> Any:
    """A child's mapping entries over its parent's (else the child's, for the checks)."""
    if isinstance(base, Mapping) and isinstance(child, Mapping):
        return {**base, **child}
    return base if child is None else child


def _params(where: str, cls: type[Space], raw: Any) -> dict[str, Param]:
    """Every parameter of a ``cls`` space: exactly its names, each a valid domain."""
    allowed = cls.PARAMETERS
    if not isinstance(raw, Mapping):
        raise SpaceError(f"{where}: params: expected a mapping of {', '.join(allowed)}")
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise SpaceError(
            f"{where}: params: unknown parameter {unknown[0]!r} for a {cls.kind} space "
            f"(allowed: {', '.join(allowed)})"
        )
    missing = [k for k in allowed if k not in raw]
    if missing:
        raise SpaceError(f"{where}: params: missing {', '.join(missing)}")
    return {k: Param.load(k, raw[k], where) for k in allowed}


def _layout(where: str, cls: type[Space], merged: Mapping[str, Any]) -> dict[str, Any]:
    """The stages of a space: AnyNet ``stages`` and ``strides``; RegNet one ``stride``."""
    strides, stages = merged.get("strides"), merged.get("stages")
    strides = 2 if strides is None else strides
    if cls is RegNetSpace:
        if stages is not None:
            raise SpaceError(
                f"{where}: stages: a regnet space generates its stages (use constraints.num_stages)"
            )
        if not _positive(strides):
            raise SpaceError(f"{where}: strides: expected one positive integer, got {strides!r}")
        return {"stride": strides}
    stages = 4 if stages is None else stages
    if not _positive(stages) or stages > MAX_STAGES:
        raise SpaceError(
            f"{where}: stages: expected a positive integer up to {MAX_STAGES}, got {stages!r}"[:300]
        )
    strides = [strides] * stages if _positive(strides) else strides
    if isinstance(strides, list) and len(strides) == stages and all(map(_positive, strides)):
        return {"stages": stages, "strides": tuple(strides)}
    got = f"{where}: strides: expected a positive integer or a list of {stages}, got {strides!r}"
    raise SpaceError(got[:300])


def _positive(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 64


def _description(where: str, text: Any) -> str:
    """A description on one line (line breaks and tabs as spaces)."""
    if not isinstance(text, str):
        raise SpaceError(f"{where}: description: expected a string")
    text = " ".join(text.split())
    if not text.isprintable() or len(text) > MAX_DESCRIPTION:
        raise SpaceError(
            f"{where}: description: plain text of at most {MAX_DESCRIPTION} characters expected"
        )
    return text


def _paper_size(where: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)  # YAML 1.1 reads 3e8 (no dot) as text
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e300:
        raise SpaceError(f"{where}: paper_size: expected a finite number, got {value!r}"[:300])
    return float(value)


def _reference(extends: str | os.PathLike | Space, path: Path) -> str:
    """How a space file at ``path`` names its parent ``extends``."""
    if not isinstance(extends, Space):
        return str(extends)
    source = Path(extends.source).resolve() if extends.source else None
    if source is None or source.parent == builtin_dir():
        return extends.name
    return os.path.relpath(source, path.resolve().parent)


def _added(space: Space, chain: list[tuple[Path, dict[str, Any]]]) -> str:
    """What this space adds to its parent, in words (for ``dsd spaces``)."""
    if len(chain) < 2:
        return "none"
    parent = load_space(chain[-2][0])
    out = space.constraints.words(parent.constraints)
    out += [
        f"{k} in {p.short()}" for k, p in space.parameters.items() if p != parent.parameters.get(k)
    ]
    out += [f"{k}={v}" for k, v in space.network.items() if parent.network.get(k) != v]
    return "; ".join(out) or "none"
