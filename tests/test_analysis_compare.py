"""dsd.analysis.compare and ``dsd compare``: KS verdicts on pairs of populations, in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from dsd.analysis.compare import compare, parse_pair
from dsd.cli import main
from dsd.errors import DsdError
from dsd.io import write_table


def _pops(shift: float, n: int = 40, seed: int = 0):
    """Two populations of errors (fractions: uniform on [0.3, 0.7], the second shifted)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.3, 0.7, n), rng.uniform(0.3, 0.7, n) + shift


def test_a_shifted_population_is_significant_and_named_better():
    a, b = _pops(-0.2)
    c = compare("A", a, "B", b, alpha=0.01, expect="differ")
    ref = ks_2samp(a, b)
    assert c.statistic == pytest.approx(ref.statistic) and c.pvalue == pytest.approx(ref.pvalue)
    assert c.pvalue < 0.01 and c.significant and c.better == "B" and c.as_expected
    assert c.median_b == pytest.approx(np.median(b)) and c.best_a == pytest.approx(a.min())
    text = c.sentence()
    assert text.startswith("B is better than A") and "agrees with the paper" in text


def test_two_draws_of_one_distribution_are_not_called_different():
    a, b = _pops(0.0, seed=3)
    c = compare("XA", a, "XC", b, alpha=0.01, expect="same")
    assert c.pvalue == pytest.approx(ks_2samp(a, b).pvalue) and c.pvalue >= 0.01
    assert not c.significant and c.as_expected
    assert c.sentence().startswith("no significant difference between XA and XC")
    unlike = compare("XA", a, "XC", b, expect="differ").sentence()
    assert "Unlike the paper, which found them to differ" in unlike


def test_bad_pairs_and_populations_are_one_line_errors():
    assert parse_pair("AnyNetXA:AnyNetXC=same") == ("AnyNetXA", "AnyNetXC", "same")
    assert parse_pair("A:B") == ("A", "B", None)
    for bad in ("A", "A:", "A:B=maybe"):
        with pytest.raises(DsdError, match="expected A:B"):
            parse_pair(bad)
    with pytest.raises(DsdError, match="at least 2 finite errors"):
        compare("A", [0.1], "B", [0.2, 0.3])
    with pytest.raises(DsdError, match="alpha"):
        compare("A", [0.1, 0.2], "B", [0.2, 0.3], alpha=1.5)


def test_cli_prints_one_sentence_a_pair(tmp_path, capsys):
    a, b = _pops(-0.2)
    df = pd.DataFrame(
        {
            "model_id": [f"m{i}" for i in range(len(a) + len(b))],
            "space": ["XA"] * len(a) + ["XE"] * len(b),
            "status": "ok",
            "top1_err": np.concatenate([a, b]),
        }
    )
    path = tmp_path / "r.parquet"
    write_table(df, path)
    assert main(["compare", str(path), "--pair", "XA:XE=differ"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("XA vs XE: XE is better than XA")
    assert main(["compare", str(path), "--pair", "XA:XZ"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no population 'XZ'" in err[0]


def test_no_difference_says_whether_the_populations_could_have_seen_one():
    from dsd.analysis import ks_models_needed, ks_power

    rng = np.random.default_rng(1)
    # 20 vs 20 of one distribution (the demo's size): no difference, and no power to see one
    small = compare("XA", rng.uniform(0.3, 0.5, 20), "XC", rng.uniform(0.3, 0.5, 20), expect="same")
    assert not small.significant and not small.conclusive
    assert small.verdict == "not enough models to tell"
    assert small.power == pytest.approx(ks_power(20, 20, 0.2, 0.05)) and small.needed == 159
    text = small.sentence()
    assert "not enough models to tell: power 0.07 to see a KS difference of 0.2" in text
    assert "159 models a population give power 0.8" in text
    assert "agrees with the paper" not in text and "neither confirm nor contradict" in text
    # 400 vs 400: the same answer now means something
    rng = np.random.default_rng(2)  # a draw with p = 0.91
    big = compare("XA", rng.uniform(0.3, 0.5, 400), "XC", rng.uniform(0.3, 0.5, 400), expect="same")
    assert big.verdict == "same" and big.power > 0.99 and ks_models_needed() == big.needed
    assert "large enough" in big.sentence() and "This agrees with the paper" in big.sentence()
    # a difference found needs no power statement
    a, b = _pops(-0.2)
    assert compare("A", a, "B", b).verdict == "differ"


def test_compare_refuses_errors_that_are_not_fractions():
    with pytest.raises(DsdError, match=r"population B: errors are fractions"):
        compare("A", [0.1, 0.2], "B", [20.0, 30.0])
