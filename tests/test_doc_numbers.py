"""docs/demo_numbers.py writes the README's demo paragraph from a run's results (not by hand)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "demo_numbers.py"
spec = importlib.util.spec_from_file_location("doc_numbers", SCRIPT)
numbers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(numbers)


def _results(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    errors = {
        "AnyNetXA": rng.uniform(0.05, 0.10, 20),
        "AnyNetXC": rng.uniform(0.05, 0.10, 20),
        "RegNetX": rng.uniform(0.02, 0.06, 20),
    }
    rows = [
        {"space": s, "status": "ok", "top1_err": float(e), "train_seconds": 30.0}
        for s, errs in errors.items()
        for e in errs
    ]
    df = pd.DataFrame(rows)
    df["finished_at"] = pd.Timestamp("2026-12-07T10:00:00Z") + pd.to_timedelta(
        np.arange(len(df)) * 10, unit="s"
    )
    return df


def test_the_paragraph_quotes_the_runs_own_statistics():
    df = _results()
    text = numbers.paragraph(df, 3.25, "2026-12-07")
    xa, xc, rx = (df.loc[df.space == s, "top1_err"] for s in ("AnyNetXA", "AnyNetXC", "RegNetX"))
    p_rx = stats.ks_2samp(xa, rx).pvalue
    p_xc = stats.ks_2samp(xa, xc).pvalue
    assert f"median error {100 * rx.median():.1f}% vs {100 * xa.median():.1f}%" in text
    assert f"best {100 * rx.min():.1f}% vs {100 * xa.min():.1f}%" in text
    assert f"p = {p_rx:.2g})" in text and f"(p = {p_xc:.2g})" in text
    assert "3.2 minutes" in text and "2026-12-07" in text
    assert "power" in text and "cannot tell" in text  # 20 a population cannot resolve D = 0.2


def test_the_training_span_is_first_start_to_last_finish():
    df = _results()
    # 60 records 10 s apart, each trained 30 s: (590 + 30) s
    assert numbers.minutes_of(df) == pytest.approx(620 / 60)


def test_rewrite_replaces_only_the_marked_block():
    text = f"before\n{numbers.BEGIN}\nold words\n{numbers.END}\nafter\n"
    out = numbers.rewrite(text, "new " * 40)
    assert out.startswith("before\n") and out.endswith("after\n") and "old" not in out
    block = out.split(numbers.BEGIN)[1].split(numbers.END)[0]
    assert all(len(line) <= 100 for line in block.splitlines())
    with pytest.raises(ValueError, match="no <!-- numbers:demo -->"):
        numbers.rewrite("no markers here", "x")


def test_the_readme_has_the_block():
    assert numbers.BEGIN in numbers.README.read_text() and numbers.END in numbers.README.read_text()
