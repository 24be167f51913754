"""Normalised-EDF conventions: the complexity range from the regime, effective n, empty bins."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import synthetic_results

from dsd.analysis import build_report, load_populations, tables
from dsd.analysis.population import normalisation
from dsd.errors import DsdError


def _pop(flops, regime=None, seed=0) -> pd.DataFrame:
    """A population with the given flops and random errors (and a regime column if given)."""
    flops = np.asarray(flops, dtype=float)
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"flops": flops, "top1_err": rng.random(flops.size)})
    if regime is not None:
        df["regime"] = json.dumps({"flops": list(regime)})
    return df


def _loaded(pops, **options):
    """``pops`` (name -> rows) as one results table, loaded and normalised by flops."""
    df = pd.concat([p.assign(space=name) for name, p in pops.items()], ignore_index=True)
    df = df.assign(model_id=[f"m{i}" for i in range(len(df))], status="ok")
    return load_populations(df, normalise="flops", **options)


def _kish(flops, bins, lo, hi) -> float:
    """Kish effective size of NDS weights, computed directly from bin counts."""
    j = np.minimum(((np.asarray(flops) - lo) / (hi - lo) * bins).astype(int), bins - 1)
    m = np.bincount(j, minlength=bins)
    w = 1 / (bins * m[j])
    return w.sum() ** 2 / (w**2).sum()


def test_the_default_range_is_the_sampling_regime():
    # B was sampled in 360-400MF but its models happen to span only 362-398MF
    rng = np.random.default_rng(0)
    a, b = rng.uniform(360e6, 400e6, 500), rng.uniform(362e6, 398e6, 300)
    regime = (360e6, 400e6)
    pops = {"A": _pop(a, regime), "B": _pop(b, regime, seed=1)}
    norm = normalisation(pops, "flops", bins=10)
    assert (norm.source, norm.range, norm.bins, norm.requested_bins) == ("regime", regime, 10, 10)
    assert "the sampling regime's range [3.6e+08, 4e+08]" in norm.note
    edfs = _loaded(pops, bins=norm.bins, range=norm.range).edfs(normalised=True)
    assert edfs["A"].n == 500 and edfs["A"].n_eff == pytest.approx(_kish(a, 10, *regime))
    # without a regime: the overlap of the data's min..max drops A's models outside B's span
    plain = {k: v.drop(columns="regime") for k, v in pops.items()}
    data = normalisation(plain, "flops", bins=10)
    assert data.source == "data"
    assert data.range == (max(a.min(), b.min()), min(a.max(), b.max()))
    by_data = _loaded(plain, bins=10)["A"].nedf
    inside = (a >= data.range[0]) & (a <= data.range[1])
    assert by_data.n == inside.sum() < 500
    given = normalisation(pops, "flops", bins=4, range=(370e6, 390e6))
    assert given.source == "given" and given.range == (370e6, 390e6) and given.bins == 4
    # populations sampled in different regimes are normalised over their overlap
    other = {"A": pops["A"], "C": _pop(rng.uniform(380e6, 420e6, 200), (380e6, 420e6))}
    assert normalisation(other, "flops", bins=5).range == (380e6, 400e6)


def test_an_empty_bin_reduces_the_bin_count_or_raises():
    pops = {"A": _pop([0.2, 0.5, 0.9, 3.1, 3.5, 3.9])}
    norm = normalisation(pops, "flops", bins=4, range=(0, 4))
    assert (norm.bins, norm.requested_bins) == (
        2,
        4,
    )  # [1, 2) is empty at 4 bins, [1.33, 2.67) at 3
    with pytest.raises(DsdError, match="bin 2 of 4"):
        normalisation(pops, "flops", bins=4, range=(0, 4), reduce_bins=False)
    with pytest.raises(DsdError, match="no column"):
        normalisation({"A": pops["A"].drop(columns="flops")}, "flops")


def test_summary_shows_n_and_effective_n_in_percent():
    pops = {"A": _pop([0.2, 0.5, 0.9, 3.1], seed=1)}
    s = tables.summary_table(_loaded(pops, bins=2, range=(0, 4)), normalised=True).iloc[0]
    w = np.array([1 / 6, 1 / 6, 1 / 6, 1 / 2])
    assert s["n"] == 4 and s["n_eff"] == pytest.approx(round(w.sum() ** 2 / (w**2).sum(), 1))
    assert s["min%"] == pytest.approx(100 * pops["A"]["top1_err"].min())


def test_report_says_which_edfs_the_ks_compares_and_where_it_comes_from():
    a = synthetic_results(60, "AnyNetXA", 0, regime=(1e7, 4e9))
    e = synthetic_results(60, "AnyNetXE", 1, regime=(1e7, 4e9))
    page = build_report(pd.concat([a, e]), reps=200, metric="top1_err_min", sources=["x.parquet"])
    assert "KS statistic between populations (plain EDFs)" in page
    assert "KS statistic between populations (normalised EDFs)" in page
    assert "the sampling regime&#x27;s range [1e+07, 4e+09]" in page
    for text in ("x.parquet", "synthetic", "top1_err_min (best top-1 error over epochs", "dsd 0."):
        assert text in page
