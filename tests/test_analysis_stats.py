"""The statistics of dsd.analysis against closed forms, scipy.stats and planted optima."""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest
from scipy import stats

import dsd
from dsd.analysis import (
    bootstrap_best,
    complexity_weights,
    edf,
    ks,
    random_search_efficiency,
)
from dsd.errors import DsdError


def test_edf_is_eq1_with_strict_inequality():
    f = edf([0.3, 0.1, 0.2, 0.4])
    assert f.evaluate(0.3) == 0.5  # 0.1 and 0.2 are < 0.3; 0.3 itself is not
    assert f.evaluate(0.30001) == 0.75
    assert f.evaluate(0.1) == 0.0
    assert f.evaluate(1.0) == 1.0
    assert (f.n, f.min) == (4, 0.1)
    assert f.mean == pytest.approx(0.25)
    assert np.allclose(f.evaluate([0.0, 0.15, 0.25]), [0.0, 0.25, 0.5])


def test_edf_matches_scipy_ecdf_off_the_sample_and_its_left_limit_on_it():
    rng = np.random.default_rng(1)
    e = np.round(rng.random(300), 2)  # ties on purpose
    f = edf(e)
    ref = stats.ecdf(e).cdf
    grid = np.linspace(0.0, 1.0, 997)  # errors are fractions: evaluate refuses values outside
    off = ~np.isin(np.round(grid, 10), np.round(e, 10))
    assert np.allclose(f.evaluate(grid[off]), ref.evaluate(grid[off]))
    for x in np.unique(e):
        assert f.evaluate(x) == pytest.approx(ref.evaluate(x) - np.mean(e == x))


def test_weighted_edf_sums_the_weights_of_smaller_errors():
    e = np.array([0.5, 0.1, 0.3, 0.2])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    f = edf(e, weights=w)
    assert f.evaluate(0.25) == pytest.approx((2 + 4) / 10)
    assert f.mean == pytest.approx(np.sum(e * w) / 10)
    # zero weights drop models (models outside the complexity range)
    g = edf(e, weights=[0, 1, 1, 0])
    assert (g.n, g.min) == (2, 0.1)
    assert g.n_eff == pytest.approx(2.0)


def test_edf_drops_nan_and_rejects_bad_input():
    assert edf([0.2, np.nan, 0.4]).n == 2
    with pytest.raises(DsdError):
        edf([np.nan])
    with pytest.raises(DsdError):
        edf([0.1, 0.2], weights=[1.0])
    with pytest.raises(DsdError):
        edf([0.1, 0.2], weights=[1.0, -1.0])


def test_dkw_band_has_the_closed_form_half_width():
    e = np.random.default_rng(2).random(400)
    f = edf(e)
    band = f.confidence_band(0.95, "dkw", x=[0.5])
    eps = math.sqrt(math.log(2 / 0.05) / (2 * 400))
    assert band.upper[0] - f.evaluate(0.5) == pytest.approx(eps)
    assert f.evaluate(0.5) - band.lower[0] == pytest.approx(eps)


def test_bootstrap_band_brackets_the_edf_and_is_reproducible():
    e = np.random.default_rng(3).normal(0.3, 0.02, 300)
    f = edf(e)
    a = f.confidence_band(0.9, "bootstrap", reps=300, seed=5)
    b = f.confidence_band(0.9, "bootstrap", reps=300, seed=5)
    assert np.array_equal(a.lower, b.lower)
    mid = (a.x > np.quantile(e, 0.1)) & (a.x < np.quantile(e, 0.9))
    fx = f.evaluate(a.x)
    assert np.all(a.lower <= fx + 1e-12) and np.all(fx <= a.upper + 1e-12)
    assert np.all(a.upper[mid] - a.lower[mid] > 0)
    # narrower than the (uniform) DKW band in the middle, as a pointwise band should be
    d = f.confidence_band(0.9, "dkw", x=a.x)
    assert np.mean((a.upper - a.lower)[mid]) < np.mean((d.upper - d.lower)[mid])
    with pytest.raises(DsdError):
        f.confidence_band(0.9, "magic")


def test_complexity_weights_closed_form_and_properties():
    assert complexity_weights([1, 2, 2, 9], bins=2, range=(0, 4)).tolist() == [0.5, 0.25, 0.25, 0]
    flops = np.random.default_rng(4).uniform(350e6, 410e6, 1000)
    w = complexity_weights(flops, bins=10, range=(360e6, 400e6))
    assert w.sum() == pytest.approx(1.0)
    assert np.all(w[(flops < 360e6) | (flops > 400e6)] == 0)
    # each bin carries exactly 1/k of the mass
    j = np.floor((flops - 360e6) / 4e6).astype(int)
    for b in range(10):
        assert w[j == b].sum() == pytest.approx(0.1)


def test_complexity_weights_empty_bin_names_the_bin():
    with pytest.raises(DsdError, match=r"bin 2 of 3"):
        complexity_weights([0.1, 0.2, 2.9], bins=3, range=(0, 3))


def test_ks_plain_is_scipy_ks_2samp():
    rng = np.random.default_rng(5)
    a, b = rng.normal(0.3, 0.02, 200), rng.normal(0.31, 0.02, 150)
    r, ref = ks(a, b), stats.ks_2samp(a, b)
    assert (r.statistic, r.pvalue) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue))
    assert r.method == "ks_2samp"


def test_weighted_ks_is_the_sup_distance_of_the_weighted_edfs():
    rng = np.random.default_rng(6)
    a, b = rng.normal(0.3, 0.02, 120), rng.normal(0.305, 0.03, 90)
    wa, wb = rng.random(120), rng.random(90)
    r = ks(a, b, weights_a=wa, weights_b=wb)
    grid = np.sort(np.concatenate((a, b)))
    fa, fb = edf(a, wa), edf(b, wb)
    brute = max(
        np.max(np.abs(fa.evaluate(grid) - fb.evaluate(grid))),
        np.max(np.abs(fa.evaluate(grid + 1e-12) - fb.evaluate(grid + 1e-12))),
    )
    assert r.statistic == pytest.approx(brute)
    assert r.n1 == pytest.approx(wa.sum() ** 2 / (wa**2).sum())
    assert 0 <= r.pvalue <= 1
    # equal weights: the same statistic as scipy
    same = ks(edf(a, np.full(120, 3.0)), edf(b, np.full(90, 0.5)))
    assert same.statistic == pytest.approx(stats.ks_2samp(a, b).statistic)


def test_bootstrap_covers_a_planted_optimum():
    rng = np.random.default_rng(7)
    x = rng.integers(1, 17, 500)
    e = 0.25 + 0.002 * (x - 7) ** 2 + rng.normal(0, 0.01, 500)
    r = bootstrap_best(x, e, seed=0)
    assert r.low <= 7 <= r.high
    assert r.median == 7
    assert r.samples.shape == (10_000,)
    assert (r.n, r.m) == (500, 125)
    assert r.high - r.low < 8  # informative: much narrower than the domain 1..16


def test_bootstrap_per_stage_parameter_gives_one_band_a_stage():
    rng = np.random.default_rng(8)
    x = rng.integers(1, 17, (400, 4))
    planted = np.array([2, 5, 9, 13])
    e = 0.25 + 0.001 * ((x - planted) ** 2).sum(axis=1) + rng.normal(0, 0.005, 400)
    r = bootstrap_best(x, e, reps=4000, seed=1)
    assert r.low.shape == (4,) and r.samples.shape == (4000, 4)
    assert np.all(r.low <= planted) and np.all(planted <= r.high)


def test_bootstrap_matches_a_naive_loop_on_the_same_draws():
    rng = np.random.default_rng(9)
    x, e = rng.random(60), rng.random(60)
    r = bootstrap_best(x, e, frac=0.25, reps=500, seed=np.random.default_rng(42))
    idx = np.random.default_rng(42).integers(0, 60, size=(500, 15))
    naive = [x[min(row, key=lambda i: e[i])] for row in idx]
    assert np.array_equal(r.samples, naive)
    assert r.median == np.quantile(naive, 0.5, method="inverted_cdf")
    assert bootstrap_best(x, e, seed=3).median == bootstrap_best(x, e, seed=3).median


def test_random_search_efficiency_without_replacement_equals_exhaustive_enumeration():
    e = np.array([0.31, 0.27, 0.35, 0.29, 0.40, 0.33, 0.28, 0.30])
    r = random_search_efficiency(e, replace=False, band="quantile")
    assert not r.replace
    for k in range(1, 9):
        exact = np.mean([min(c) for c in itertools.combinations(e, k)])
        assert r.mean[k - 1] == pytest.approx(exact)
    assert r.mean[0] == pytest.approx(e.mean()) and r.mean[-1] == pytest.approx(e.min())
    big = random_search_efficiency(np.random.default_rng(0).random(5000), replace=False)
    assert np.all(np.diff(big.mean) <= 1e-12) and len(big.k) <= 200
    assert np.all(big.low <= big.high)
    for k in (2, 5):  # quantiles of the minimum, also by enumeration
        mins = np.sort([min(c) for c in itertools.combinations(e, k)])
        assert r.low[k - 1] == np.quantile(mins, 0.25, method="inverted_cdf")
        assert r.high[k - 1] == np.quantile(mins, 0.75, method="inverted_cdf")


def test_random_search_efficiency_with_replacement_and_weights_equals_enumeration():
    # NDS draws with replacement, from the normalised-EDF weights: enumerate every ordered draw
    e = np.array([0.31, 0.27, 0.35, 0.29, 0.40, 0.33])
    w = np.array([1.0, 3.0, 0.5, 2.0, 1.0, 0.5])
    for weights in (None, w):
        r = random_search_efficiency(e, k=[1, 2, 3, 8], weights=weights, band="quantile")
        nds = random_search_efficiency(e, k=[1, 2, 3, 8], weights=weights)  # mean -+ 2 std
        p = np.ones(e.size) / e.size if weights is None else w / w.sum()
        assert r.replace and r.n_eff == pytest.approx(1 / np.sum(p**2))
        for row, k in enumerate((1, 2, 3)):
            draws = list(itertools.product(range(e.size), repeat=k))
            prob = np.array([np.prod(p[list(d)]) for d in draws])
            mins = np.array([e[list(d)].min() for d in draws])
            assert r.mean[row] == pytest.approx(np.sum(prob * mins))
            std = np.sqrt(np.sum(prob * (mins - r.mean[row]) ** 2))
            assert nds.std[row] == pytest.approx(std) and nds.band == "std"
            assert (nds.low[row], nds.high[row]) == pytest.approx(
                (r.mean[row] - 2 * std, r.mean[row] + 2 * std)
            )
            order = np.argsort(mins, kind="stable")
            cdf = np.cumsum(prob[order])
            assert r.low[row] == mins[order][np.argmax(cdf >= 0.25 - 1e-12)]
            assert r.high[row] == mins[order][np.argmax(cdf >= 0.75 - 1e-12)]
        assert r.k[-1] == 8 > e.size  # with replacement k may exceed n
    # a weight-0 model is never drawn; the mean of k = 1 is the weighted mean error
    r = random_search_efficiency(e, k=[1], weights=[0, 1, 1, 1, 1, 1])
    assert r.mean[0] == pytest.approx(e[1:].mean()) and r.n == 5
    with pytest.raises(DsdError):
        random_search_efficiency(e, weights=w, replace=False)


def test_top_level_names_are_the_analysis_functions():
    assert dsd.edf is edf and dsd.ks is ks and dsd.bootstrap_best is bootstrap_best
    assert dsd.complexity_weights is complexity_weights
    assert dsd.random_search_efficiency is random_search_efficiency
    assert dsd.fit_regnet is dsd.analysis.fit_regnet


def test_docstring_examples_hold():
    import dsd.analysis.stats as module

    result = doctest.testmod(module)
    assert result.attempted >= 3 and result.failed == 0


def _mc_power(n: int, draw_b, alpha: float = 0.05, reps: int = 1000, seed: int = 0) -> float:
    """Share of ``reps`` pairs of samples (uniform vs ``draw_b``) that scipy's ks_2samp rejects."""
    rng = np.random.default_rng(seed)
    hits = sum(stats.ks_2samp(rng.random(n), draw_b(rng, n)).pvalue < alpha for _ in range(reps))
    return hits / reps


def _near_one_point(rng, n, d=0.2, x0=0.5):
    """The least favourable alternative: the uniform with mass d moved from just below x0 to
    just above it, so the two CDFs differ by d near x0 only."""
    u = rng.random(n)
    moved = (u >= x0 - d) & (u < x0)
    return np.where(moved, x0 + (u - (x0 - d)) * 1e-3, u)


def test_ks_power_matches_a_monte_carlo_estimate_with_scipy():
    from dsd.analysis import ALPHA, ks_models_needed, ks_power

    assert ALPHA == 0.05
    for n in (40, 80, 159):
        expected = ks_power(n, n, 0.2, 0.05)
        # against the least favourable alternative the approximation is the power (MC s.e. <= 0.016)
        assert _mc_power(n, _near_one_point) == pytest.approx(expected, abs=0.05), n
        # a shift of the whole distribution by 0.2 is seen more often: the power is a lower bound
        assert _mc_power(n, lambda rng, k: rng.random(k) + 0.2, reps=300) >= expected - 0.03
    # the sample-size guidance inverts it: 159 models a population for D = 0.2 at power 0.8
    assert ks_models_needed(0.2, 0.05, 0.8) == 159
    assert ks_power(159, 159, 0.2, 0.05) >= 0.8 > ks_power(158, 158, 0.2, 0.05)
    assert ks_power(20, 20, 0.2, 0.05) < 0.1 and ks_power(0, 20) == 0.0
    with pytest.raises(DsdError):
        ks_power(20, 20, 0.0)


def test_errors_are_fractions_and_values_in_another_unit_are_refused():
    f = edf([0.2, 0.3, 0.4])
    assert f.unit == "fraction" and f.evaluate(0.35) == pytest.approx(2 / 3)
    for percent in (5, 35.0, -0.1, 1.01):
        with pytest.raises(DsdError, match=r"fractions in \[0, 1\]"):
            f.evaluate(percent)
    with pytest.raises(DsdError, match=r"35% is 0.35"):
        edf([0.2, 35.0])
    assert np.all((f.grid() >= 0) & (f.grid() <= 1))


def test_bootstrap_reps_are_bounded_and_drawn_in_blocks_of_one_stream(monkeypatch):
    import dsd.analysis.stats as module

    rng = np.random.default_rng(10)
    x, e = rng.random(80), rng.random(80)
    whole = bootstrap_best(x, e, reps=3000, seed=4)
    monkeypatch.setattr(module, "BLOCK", 1000)  # 50 repetitions of m = 20 a block
    assert np.array_equal(bootstrap_best(x, e, reps=3000, seed=4).samples, whole.samples)
    with pytest.raises(DsdError, match="reps <= 1,000,000"):
        bootstrap_best(x, e, reps=1_000_001)
