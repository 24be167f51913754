"""fit_regnet recovers RegNets generated from known (d, w0, wa, wm) (DDS §3.3, figure 7)."""

from __future__ import annotations

import numpy as np
import pytest

import dsd
from dsd.analysis import block_widths, fit_regnet, quantized_linear_widths
from dsd.errors import DsdError


def test_generator_gives_the_papers_regnetx_400mf_widths():
    w = quantized_linear_widths(22, 24, 24.48, 2.54)
    widths, depths = np.unique(w, return_counts=True)
    assert widths.tolist() == [24, 64, 152, 392] and depths.tolist() == [1, 2, 7, 12]


def test_generator_agrees_with_dsd_nets_on_the_model_zoo():
    for name, z in dsd.model_zoo().items():
        ours = quantized_linear_widths(z.depth, z.w0, z.wa, z.wm).astype(int).tolist()
        assert ours == list(dsd.regnet_widths(z.depth, z.w0, z.wa, z.wm).block_widths), name


def test_generator_is_vectorised_over_a_grid():
    w0, wa, wm = np.array([24, 48]), np.array([24.48, 27.89]), np.array([2.54, 2.09])
    grid = quantized_linear_widths(16, w0, wa, wm)
    assert grid.shape == (2, 16)
    assert np.array_equal(grid[1], quantized_linear_widths(16, 48, 27.89, 2.09))


def _random_regnets(count: int, seed: int):
    """Random 4-stage RegNets drawn like pycls's sampler (d, w0 /8, wa /0.1, wm /0.001)."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        d = int(rng.integers(12, 29))
        w0 = int(np.round(np.exp(rng.uniform(np.log(8), np.log(256))) / 8) * 8)
        wa = round(float(np.exp(rng.uniform(0, np.log(256)))), 1)  # beyond pycls's wa >= 8
        wm = round(float(np.exp(rng.uniform(np.log(1.5), np.log(3)))), 3)
        w = quantized_linear_widths(d, w0, wa, wm)
        if len(np.unique(w)) == 4 and w.max() <= 1024:
            out.append(((d, w0, wa, wm), w.astype(int)))
    return out


def test_fit_recovers_random_regnets_exactly():
    for params, w in _random_regnets(100, seed=0):
        fit = fit_regnet(w)
        assert fit.e_fit == 0.0, params
        assert fit.widths == tuple(w.tolist()), params
        assert fit.d == params[0] and fit.w0 == params[1]
        # the fitted parameters regenerate the same widths
        assert np.array_equal(quantized_linear_widths(fit.d, fit.w0, fit.wa, fit.wm), w)


def test_fit_recovers_the_zoo_including_w0_above_256():
    for name, z in dsd.model_zoo().items():
        w = dsd.regnet_widths(z.depth, z.w0, z.wa, z.wm).block_widths
        fit = fit_regnet(w)
        assert fit.e_fit == 0.0 and fit.widths == tuple(w), name
    x32 = dsd.model_zoo()["RegNetX-32GF"]
    assert (
        x32.w0 == 320 and fit_regnet(dsd.regnet_widths(23, 320, 69.86, 2.0).block_widths).w0 == 320
    )


def test_fit_of_a_non_regnet_reports_its_own_e_fit():
    obs = block_widths([1, 3, 6, 2], [48, 56, 200, 720])
    assert obs == (48, 56, 56, 56, *[200] * 6, 720, 720)
    fit = fit_regnet(obs)
    assert fit.e_fit > 0
    assert fit.e_fit == pytest.approx(np.mean(np.abs(np.log(np.array(fit.widths) / np.array(obs)))))
    assert sum(fit.stage_depths) == fit.d == len(obs)
    # no worse than the obvious candidate "w0 = first width, one stage per observed width"
    baseline = np.mean(np.abs(np.log(48 / np.array(obs))))
    assert fit.e_fit < baseline


def test_fit_of_sampled_regnetx_models_is_nearly_exact():
    # widths after the group-width compatibility adjustment are no longer exactly quantized linear
    df = dsd.load_space("RegNetX").sample(30, flops=(360e6, 400e6), seed=0)
    e = [fit_regnet(block_widths(r.depths, r.widths)).e_fit for r in df.itertuples()]
    assert np.median(e) < 0.05 and max(e) < 0.2


def test_fit_rejects_bad_widths():
    for bad in ([], [0, 8], [8, np.nan], [[8, 16]]):
        with pytest.raises(DsdError):
            fit_regnet(bad)
    with pytest.raises(DsdError):
        block_widths([1, 2], [8])
