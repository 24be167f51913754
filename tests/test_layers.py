"""The layer order of dsd (README): a module imports only from its own layer or layers above it."""

from __future__ import annotations

import ast
from pathlib import Path

import dsd

ROOT = Path(dsd.__file__).parent
#: Layer of each subpackage; top-level helper modules (errors, io, schema, validate) are layer 0.
LAYERS = {
    "nets": 1,
    "spaces": 2,
    "trainer": 3,
    "sweep": 4,
    "analysis": 5,
    "pipeline": 6,
    "design": 6,
    "cli": 7,
}
ENTRY_POINTS = {"dsd.__main__"}


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 0


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every dsd module imported anywhere in ``path`` (also inside functions)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, node.lineno))
            if node.module == "dsd":  # from dsd import analysis
                out += [(f"dsd.{a.name}", node.lineno) for a in node.names if a.name in LAYERS]
    return [(m, n) for m, n in out if m == "dsd" or m.startswith("dsd.")]


def test_no_module_imports_a_later_layer():
    bad = []
    for path in ROOT.rglob("*.py"):
        module = ".".join(("dsd", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        if module in ENTRY_POINTS or module == "dsd":
            continue
        mine = _layer(module)
        bad += [f"{module}:{n} imports {m}" for m, n in _imports(path) if _layer(m) > mine]
    assert not bad, "\n".join(bad)


def test_the_checker_sees_a_violation(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from dsd.analysis import write_report\n")
    assert _imports(f) == [("dsd.analysis", 2)] and _layer("dsd.analysis") > _layer(
        "dsd.sweep.driver"
    )


def test_type_checkers_see_exactly_the_lazy_exports():
    """dsd/__init__.py's TYPE_CHECKING imports name every public export from its real module."""
    tree = ast.parse((ROOT / "__init__.py").read_text(encoding="utf-8"))
    guarded = next(
        n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
    )
    seen = {
        a.name: n.module for n in guarded.body if isinstance(n, ast.ImportFrom) for a in n.names
    }
    assert seen == dsd._EXPORTS
    for name in seen:
        assert getattr(dsd, name) is not None
