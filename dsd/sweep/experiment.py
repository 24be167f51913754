"""Experiment files (``experiments/*.yaml``, which show every key): which spaces to compare, how
many models of each in which regime, and how to train them; validated strictly (an unknown key,
a wrong type or a missing field is a DsdError naming the file, the key and what is allowed).
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dsd.errors import DsdError
from dsd.io import load_yaml
from dsd.spaces import Space, load_space
from dsd.spaces.loader import resolve
from dsd.sweep.executors import ExecutorSettings
from dsd.trainer import TrainConfig
from dsd.validate import check_seed, parse_count

MAX_NAME = 200  # characters of an experiment's name
# Keys of TrainConfig that an experiment sets at the top level (or per seed), not in `recipe`.
TOP_LEVEL_TRAIN_KEYS = ("dataset", "data", "epochs", "seed")


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file."""

    name: str
    spaces: tuple[str, ...]
    n: int
    dataset: str
    epochs: int
    description: str = ""
    flops: tuple[float, float] | None = None
    sample_seed: int = 0
    resolution: int | None = None
    num_classes: int | None = None
    network: dict = field(default_factory=dict)
    data: str | None = None
    recipe: dict = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    path: str = ""  # the file it came from (for messages)

    def fingerprint(self) -> dict:
        """Everything that decides *what* is trained (not where): a resumed run must match it."""
        keys = ("spaces", "n", "flops", "sample_seed", "resolution", "num_classes", "network")
        return {k: getattr(self, k) for k in (*keys, "dataset", "epochs", "recipe", "seeds")}

    def train_config(self, data: str | None = None) -> TrainConfig:
        """The :class:`dsd.trainer.TrainConfig` of this experiment (seed set per task later)."""
        data = data if data is not None else self.data
        try:
            return TrainConfig(dataset=self.dataset, data=data, epochs=self.epochs, **self.recipe)
        except DsdError as e:
            raise DsdError(f"{self.path}: {e}") from None

    def sample(self, spaces: typing.Sequence[Space] | None = None) -> pd.DataFrame:
        """``n`` models from every space (or from ``spaces``, loaded ones), in the regime."""
        sizes = {"resolution": self.resolution, "num_classes": self.num_classes}
        network = {**self.network, **{k: v for k, v in sizes.items() if v is not None}}
        spaces = [load_space(name) for name in self.spaces] if spaces is None else spaces
        frames = [
            sp.sample(self.n, flops=self.flops, seed=self.sample_seed, **network) for sp in spaces
        ]
        return pd.concat(frames, ignore_index=True)


# -- value checks -----------------------------------------------------------------------
def _matches(value: Any, hint: Any) -> tuple[bool, Any]:
    """Whether ``value`` fits the plain type ``hint`` (and the value converted to it)."""
    if hint is type(None):
        return value is None, None
    if hint in (bool, str):
        return isinstance(value, hint), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads 5e-5 as a string
            try:
                value = float(value)
            except ValueError:
                return False, value
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok and math.isfinite(value), value
    return True, value  # a type this checker does not know: the dataclass checks it


def _check_type(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against a simple type hint (int, float, str, bool, X | None); return it."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = typing.get_args(hint) if union else (hint,)
    for option in options:
        ok, converted = _matches(value, option)
        if ok:
            return float(converted) if option is float else converted
    names = " or ".join(
        "null" if o is type(None) else getattr(o, "__name__", str(o)) for o in options
    )
    names = names.replace("float", "finite number")
    raise DsdError(f"{where}: expected {names}, got {type(value).__name__} {value!r}")


def _check_keys(data: dict, allowed: typing.Collection[str], where: str) -> None:
    """Reject keys that are not in ``allowed``."""
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise DsdError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(allowed)})")


def _check_section(data: Any, cls: type, where: str, skip: tuple[str, ...] = ()) -> dict:
    """Validate a mapping against the fields (and type hints) of dataclass ``cls``."""
    if not isinstance(data, dict):
        raise DsdError(f"{where}: expected a mapping of keys to values, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    _check_keys(data, names, where)
    return {k: _check_type(v, hints[k], f"{where}.{k}") for k, v in data.items()}


def _space_key(name: str) -> str:
    """What a space name refers to: its file, whatever the spelling (AnyNetXA, anynetxa, a path)."""
    try:
        return str(resolve(name))
    except DsdError:
        return name.lower()  # an unknown name is reported when it is sampled


def _name(value: Any, where: str, longest: int = MAX_NAME) -> str:
    """A name on one line (no control character): 1 to ``longest`` characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > longest:
        message = f"{where}: expected a name of 1 to {longest} characters, got {value!r}"
        raise DsdError(message[:300])
    if any(unicodedata.category(c).startswith("C") for c in value):
        raise DsdError(f"{where}: {value!r} holds a control character (a newline?)"[:300])
    return value


def _space_list(value: Any, where: str) -> tuple[str, ...]:
    """A non-empty list of space names, none naming the same space as another."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise DsdError(f"{where}: expected a non-empty list of names, got {value!r}")
    seen: dict[str, str] = {}
    for name in value:
        _name(name, where, longest=4096)  # a built-in name or a path
        key = _space_key(name)
        if key in seen:
            raise DsdError(f"{where}: {seen[key]!r} and {name!r} name the same space")
        seen[key] = name
    return tuple(value)


def _int_list(value: Any, where: str) -> tuple[int, ...]:
    """A non-empty list of distinct integers."""
    ints = isinstance(value, list) and all(_matches(v, int)[0] for v in value)
    if not ints or not value or len(set(value)) != len(value):
        raise DsdError(f"{where}: expected a non-empty list of distinct integers, got {value!r}")
    return tuple(check_seed(v, where) for v in value)


def _flops(value: Any, where: str) -> tuple[float, float] | None:
    """A complexity regime [lo, hi] (or None)."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise DsdError(f"{where}: expected [low, high] such as [360M, 400M], got {value!r}")
    lo, hi = (parse_count(v, where) for v in value)
    if not 0 <= lo < hi:
        raise DsdError(f"{where}: expected 0 <= low < high, got [{lo:g}, {hi:g}]")
    return lo, hi


def _positive_int(value: Any, where: str, allow_none: bool = False) -> int | None:
    """An integer >= 1 (or None when allowed)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DsdError(f"{where}: expected an integer >= 1, got {value!r}")
    return value


REQUIRED = ("name", "spaces", "n", "dataset", "epochs")
ALLOWED = tuple(f.name for f in dataclasses.fields(Experiment) if f.name != "path")
# Network-level fields an experiment may override in every space it samples.
NETWORK_KEYS = {"stem": str, "stem_width": int, "block": str, "se_ratio": float, "head_width": int}


def _network(value: Any, where: str) -> dict:
    """Network-level overrides (stem, stem_width, block, se_ratio, head_width)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DsdError(f"{where}: expected a mapping such as {{stem: res_stem_cifar}}")
    _check_keys(value, NETWORK_KEYS, where)
    return {k: _check_type(v, NETWORK_KEYS[k], f"{where}.{k}") for k, v in value.items()}


def parse_experiment(raw: Any, path: str = "<experiment>") -> Experiment:
    """Validate a parsed YAML document and build the :class:`Experiment`."""
    if not isinstance(raw, dict):
        raise DsdError(f"{path}: expected a mapping with keys {', '.join(REQUIRED)}")
    _check_keys(raw, ALLOWED, path)
    for key in REQUIRED:
        if key not in raw:
            allowed = ", ".join(REQUIRED)
            raise DsdError(f"{path}: missing required key {key!r} (required: {allowed})")
    w = lambda k: f"{path}: {k}"  # noqa: E731
    recipe = raw.get("recipe") or {}
    recipe = _check_section(recipe, TrainConfig, w("recipe"), TOP_LEVEL_TRAIN_KEYS)
    executor = _check_section(raw.get("executor") or {}, ExecutorSettings, w("executor"))
    try:
        settings = ExecutorSettings(**executor)
    except DsdError as e:
        raise DsdError(f"{w('executor')}: {e}") from None
    return Experiment(
        name=_name(raw["name"], w("name")),
        spaces=_space_list(raw["spaces"], w("spaces")),
        n=_positive_int(raw["n"], w("n")),
        dataset=_check_type(raw["dataset"], str, w("dataset")),
        epochs=_positive_int(raw["epochs"], w("epochs")),
        description=_check_type(raw.get("description", ""), str, w("description")),
        flops=_flops(raw.get("flops"), w("flops")),
        sample_seed=check_seed(raw.get("sample_seed", 0), w("sample_seed")),
        resolution=_positive_int(raw.get("resolution"), w("resolution"), allow_none=True),
        num_classes=_positive_int(raw.get("num_classes"), w("num_classes"), allow_none=True),
        network=_network(raw.get("network"), w("network")),
        data=_check_type(raw.get("data"), str | None, w("data")),
        recipe=recipe,
        seeds=_int_list(raw.get("seeds", [0]), w("seeds")),
        executor=settings,
        path=path,
    )


def builtin_experiments_dir() -> Path:
    """``dsd/_experiments``: a link to ``experiments/`` in a checkout, its copy in a wheel."""
    return (Path(__file__).resolve().parents[1] / "_experiments").resolve()


def builtin_experiments() -> list[str]:
    """Names of the built-in experiments (``dsd run NAME`` finds them from anywhere)."""
    d = builtin_experiments_dir()
    return [p.stem for p in sorted(d.glob("*.yaml"))] if d.is_dir() else []


def resolve_experiment(ref: str | os.PathLike) -> Path:
    """An experiment file by path, or a built-in one by name (``digits_anynetx``)."""
    path = Path(ref)
    if path.is_file():
        return path
    name = path.name.removesuffix(".yaml")
    if len(path.parts) == 1 and name in builtin_experiments():
        return builtin_experiments_dir() / f"{name}.yaml"
    if path.exists():
        raise DsdError(f"{ref}: not a regular file, expected an experiment file (YAML)")
    known = ", ".join(builtin_experiments()) or "none"
    raise DsdError(f"{ref}: no such experiment file (built-in experiments: {known})")


def load_experiment(path: str | os.PathLike) -> Experiment:
    """Read and validate an experiment file, or a built-in one by name."""
    path = resolve_experiment(path)
    return parse_experiment(load_yaml(path), str(path))
