"""Regenerate the demo's figures that the README quotes, from a run (never typed by hand).

    python docs/demo_numbers.py                 # run the demo experiment afresh (timed), rewrite README.md
    python docs/demo_numbers.py --from runs/demo  # use an existing run folder (time from its records)
    python docs/demo_numbers.py --print         # print the paragraph, change nothing

The README holds the paragraph between ``<!-- numbers:demo -->`` and ``<!-- /numbers:demo -->``;
this script writes it from the run's results with :func:`dsd.compare` (the same verdicts
``make demo`` prints), so the quoted medians, best errors, KS p-values and power are the run's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import dsd

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXPERIMENT = "digits_anynetx"
BEGIN, END = "<!-- numbers:demo -->", "<!-- /numbers:demo -->"


def pct(x: float) -> str:
    """An error fraction as percent with one decimal."""
    return f"{100 * x:.1f}%"


def pvalue(p: float) -> str:
    """A p-value as the demo prints it."""
    return f"{p:.2g}"


def paragraph(results: pd.DataFrame, minutes: float, day: str) -> str:
    """The README's paragraph on the demo, from its results table."""
    ok = results[results["status"] == "ok"]
    errors = {s: g["top1_err"].to_numpy() for s, g in ok.groupby("space")}
    same = dsd.compare("AnyNetXA", errors["AnyNetXA"], "AnyNetXC", errors["AnyNetXC"])
    better = dsd.compare("AnyNetXA", errors["AnyNetXA"], "RegNetX", errors["RegNetX"])
    n = {s: len(e) for s, e in errors.items()}
    xc = (
        f"no significant difference between AnyNetXC and AnyNetXA (p = {pvalue(same.pvalue)}), "
        f"but at {n['AnyNetXA']} models a population the KS test has power "
        f"{same.power:.2f} to see a difference of {same.difference:g}, so the demo cannot tell "
        f"({same.needed} models a population would)"
        if not same.significant
        else f"AnyNetXC differs from AnyNetXA (p = {pvalue(same.pvalue)})"
    )
    rx = (
        f"RegNetX better than AnyNetXA (median error {pct(better.median_b)} vs "
        f"{pct(better.median_a)}, best {pct(better.best_b)} vs {pct(better.best_a)}, KS D = "
        f"{better.statistic:.2f}, p = {pvalue(better.pvalue)})"
        if better.significant and better.better == "RegNetX"
        else f"no significant difference between RegNetX and AnyNetXA (p = {pvalue(better.pvalue)})"
    )
    return (
        f"Measured on 2 shared cores ({day}, `python docs/demo_numbers.py`): {minutes:.1f} minutes of `dsd run` (`make demo` adds the set-up); "
        f"{rx}; {xc}."
    )


def rewrite(text: str, block: str) -> str:
    """``text`` with the marked paragraph replaced by ``block`` (ValueError without markers)."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"no {BEGIN} ... {END} block")
    return pattern.sub(lambda _: f"{BEGIN}\n{wrap(block)}\n{END}", text, count=1)


def wrap(text: str, width: int = 100) -> str:
    """``text`` wrapped at ``width`` characters (the README's line length)."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def run_demo(folder: Path) -> float:
    """Run the demo experiment into ``folder``; return its wall time in minutes."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "dsd", "run", EXPERIMENT, "-o", str(folder), "--quiet"]
    subprocess.run(cmd, check=True)
    return (time.perf_counter() - t0) / 60


def minutes_of(results: pd.DataFrame) -> float:
    """The training span of a finished run, from its records: first start to last finish."""
    end = pd.to_datetime(results["finished_at"], utc=True)
    start = end - pd.to_timedelta(results["train_seconds"].fillna(0), unit="s")
    return (end.max() - start.min()).total_seconds() / 60


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="an existing demo run folder")
    parser.add_argument("--print", action="store_true", help="print the paragraph only")
    args = parser.parse_args(argv)
    day = dt.date.today().isoformat()
    if args.source:
        results = pd.read_parquet(args.source / "results.parquet")
        minutes = minutes_of(results)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            minutes = run_demo(Path(tmp) / "demo")
            results = pd.read_parquet(Path(tmp) / "demo" / "results.parquet")
    block = paragraph(results, minutes, day)
    if args.print:
        print(block)
        return 0
    README.write_text(rewrite(README.read_text(encoding="utf-8"), block), encoding="utf-8")
    print(f"README.md: {block}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
