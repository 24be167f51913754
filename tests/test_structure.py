"""The shape of the package (docs/GLOSSARY.md, README "One pipeline"): an import graph without
circles or upward edges, short functions, thin CLI modules, and imports at the top of a module.

Each check lists every offender, so one failure shows the whole list.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import dsd

ROOT = Path(dsd.__file__).parent
BENCHMARKS = ROOT.parent / "benchmarks"
#: Layer of each subpackage or top-level module (README); unlisted top-level modules are layer 0.
LAYERS = {
    "nets": 1,
    "spaces": 2,
    "trainer": 3,
    "sweep": 4,
    "analysis": 5,
    "pipeline": 6,
    "design": 6,
}
LAYERS["cli"] = 7
#: Modules that sit above every layer: the package root (lazy public API) and the entry point.
TOP = {"dsd", "dsd.__main__"}
MAX_FUNCTION_LINES = 60
MAX_CLI_MODULE_LINES = 220
#: An import inside a function must say why on its line (or the line above): "# lazy: <reason>",
#: the reason naming an optional dependency or a measured start-up cost.
LAZY_MARK = "# lazy:"


def layer(module: str) -> int:
    """The layer of a dotted module name (``dsd`` itself and the entry point are above all)."""
    if module in TOP:
        return 99
    parts = module.split(".")
    return LAYERS.get(parts[1], 0)


def module_name(path: Path) -> str:
    """``dsd/sweep/driver.py`` -> ``dsd.sweep.driver``; ``dsd/sweep/__init__.py`` -> ``dsd.sweep``."""
    parts = ("dsd", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts).removesuffix(".__init__")


@cache
def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(node: ast.ImportFrom, here: str, is_package: bool) -> str:
    """The absolute module an ImportFrom names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = here.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def edges(path: Path) -> list[tuple[str, int, bool]]:
    """(imported dsd module, line, inside a function) for every import in ``path``.

    ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``.
    """
    here = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside = _function_nodes(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, here, path.name == "__init__.py")
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in modules() else base for a in node.names
            ]
        else:
            continue
        for t in targets:
            if t == "dsd" or t.startswith("dsd."):
                out.append((t, node.lineno, id(node) in inside))
    return out


def _function_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes that sit inside a function body."""
    ids = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    ids.add(id(node))
    return ids


def _graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {m: set() for m in known}
    for m, path in known.items():
        for target, _, _ in edges(path):
            # an edge to a module that does not exist is an edge to its nearest existing parent
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != m:
                graph[m].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_circle():
    assert _cycles(_graph()) == []


def test_no_module_imports_a_later_layer_or_the_package_root():
    bad = []
    for m, path in modules().items():
        if m in TOP:
            continue
        for target, line, _ in edges(path):
            if layer(target) > layer(m):
                bad.append(f"{m}:{line} imports {target}")
    assert bad == []


def test_the_cli_imports_only_the_public_names_of_a_layer():
    """``dsd/cli`` imports a layer's package (``dsd.sweep``), never its modules
    (``dsd.sweep.driver``); benchmarks never import the CLI's internals."""
    bad = []
    for m, path in modules().items():
        if not m.startswith("dsd.cli"):
            continue
        for target, line, _ in edges(path):
            parts = target.split(".")
            if len(parts) > 2 and parts[1] in LAYERS and parts[1] != "cli":
                bad.append(f"{m}:{line} imports {target}")
    for path in sorted(BENCHMARKS.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "from dsd.cli." in text or "import dsd.cli." in text:
            bad.append(f"benchmarks/{path.name} imports dsd.cli internals")
    assert bad == []


def test_no_function_is_longer_than_60_lines():
    long = []
    for m, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{m}.{node.name}: {n} lines")
    assert long == []


def test_cli_modules_are_thin():
    fat = [
        f"{p.name}: {n} lines"
        for p in sorted((ROOT / "cli").glob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_CLI_MODULE_LINES
    ]
    assert fat == []


def test_imports_inside_functions_say_why():
    """Only an optional dependency or a measured start-up cost justifies a function-level import."""
    bad = []
    for m, path in modules().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        inside = _function_nodes(tree)
        for node in ast.walk(tree):
            if id(node) not in inside:
                continue
            here, above = lines[node.lineno - 1], lines[node.lineno - 2] if node.lineno > 1 else ""
            if LAZY_MARK not in here and LAZY_MARK not in above:
                bad.append(f"{m}:{node.lineno}: {here.strip()}")
    assert bad == []


def test_the_checks_see_what_they_check(tmp_path):
    """The helpers find a circle, an upward edge and a function-level import."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert layer("dsd.analysis.report") > layer("dsd.sweep.driver") > layer("dsd.io")
    assert layer("dsd") > layer("dsd.cli")
    tree = ast.parse("import os\ndef f():\n    import dsd.sweep\n")
    assert len(_function_nodes(tree)) == 1


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
