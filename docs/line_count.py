"""Lines of dsd/ per package at two revisions (issue 17's "before/after per package").

    python docs/line_count.py 7458da0 HEAD [--without dsd/design dsd/trainer/doctor.py ...]

"lines" counts every line of the package's .py files; "code" leaves out docstrings, comments and
blank lines. ``--without`` leaves paths (files, or folders by prefix) out of the second revision:
the modules that exist only for features the first revision did not have.
"""

from __future__ import annotations

import argparse
import ast
import io
import subprocess
import tokenize
from collections import Counter


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def code_lines(src: str) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    doc: set[int] = set()
    for node in ast.walk(ast.parse(src)):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = body[0] if body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                if isinstance(first.value.value, str):
                    doc.update(range(first.lineno, first.end_lineno + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type not in skip and tok.type != tokenize.ENDMARKER:
            lines.update(n for n in range(tok.start[0], tok.end[0] + 1) if n not in doc)
    return len(lines)


def count(rev: str, without: tuple[str, ...] = ()) -> tuple[Counter, Counter]:
    """Per package (``top`` for dsd/*.py): all lines, code lines."""
    total, code = Counter(), Counter()
    for path in git("ls-tree", "-r", "--name-only", rev, "dsd").split():
        if not path.endswith(".py") or path.startswith(without):
            continue
        src = git("show", f"{rev}:{path}")
        parts = path.split("/")
        package = parts[1] if len(parts) > 2 else "top"
        total[package] += len(src.splitlines())
        code[package] += code_lines(src)
    return total, code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after", nargs="?", default="HEAD")
    ap.add_argument("--without", nargs="*", default=[], help="paths left out of AFTER")
    args = ap.parse_args()
    (t0, c0), (t1, c1) = count(args.before), count(args.after, tuple(args.without))
    print(f"{'':10s} {'lines':^13s} {'code lines':^13s}")
    print(f"{'package':10s}" + " before  after" * 2)
    for p in sorted(set(t0) | set(t1)):
        print(f"{p:10s} {t0[p]:6d} {t1[p]:6d} {c0[p]:6d} {c1[p]:6d}")
    s = [sum(x.values()) for x in (t0, t1, c0, c1)]
    print(
        f"{'total':10s} {s[0]:6d} {s[1]:6d} {s[2]:6d} {s[3]:6d}   ({args.before} -> {args.after})"
    )


if __name__ == "__main__":
    main()
