"""Lazy public names for a package: ``name -> defining module``, imported on first access."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports_of(names: Mapping[str, str]) -> dict[str, str]:
    """``name -> module`` from a table of ``module -> "space-separated names"``."""
    return {name: module for module, text in names.items() for name in text.split()}


def lazy_exports(
    package: str, namespace: dict[str, Any], exports: Mapping[str, str]
) -> tuple[Callable, Callable]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, loading each name from its module once.

    A name cannot be lazy in the module of the same name: importing that submodule (from anywhere)
    binds the package attribute to the module, and ``__getattr__`` is never asked again.
    """
    shadowed = [name for name, module in exports.items() if module == f"{package}.{name}"]
    if shadowed:
        raise ImportError(f"{package}: lazy names shadowed by their submodules: {shadowed}")

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return namespace["__all__"]

    return __getattr__, __dir__
