"""Figures render with the Agg backend into non-trivial images, in the format of the extension."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg
import numpy as np
import pytest
from analysis_fixtures import synthetic_results

from dsd.analysis import (
    UNBOUNDED,
    bootstrap_best,
    edf,
    fit_regnet,
    plot_bootstrap,
    plot_complexity,
    plot_edfs,
    plot_fits,
    plot_random_search,
    random_search_efficiency,
    save_figure,
)
from dsd.analysis.data import param_values
from dsd.analysis.figures import figure_of
from dsd.analysis.fit import block_widths
from dsd.errors import DsdError


def _pixels(fig) -> np.ndarray:
    """The figure (or the figure of the axes a plot function returns) as RGB from PNG bytes."""
    fig = figure_of(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    buf.seek(0)
    return mpimg.imread(buf, format="png")[..., :3]


def _assert_nontrivial(fig, min_colours: int = 20, min_ink: float = 0.03):
    """Many distinct colours and a fair share of non-white pixels."""
    px = _pixels(fig)
    colours = np.unique((px * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    ink = np.mean(np.any(px < 0.9, axis=-1))
    assert len(colours) >= min_colours, len(colours)
    assert ink >= min_ink, ink


@pytest.fixture(scope="module")
def pops():
    return {
        "AnyNetXA": synthetic_results(150, "AnyNetXA", 0),
        "RegNetX": synthetic_results(100, "RegNetX", 1, offset=-0.03, regnet=True),
    }


def test_edf_figure_has_the_legend_and_bands(pops):
    edfs = {k: edf(v["top1_err"]) for k, v in pops.items()}
    fig = figure_of(plot_edfs(edfs, bands="dkw"))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    f = edfs["AnyNetXA"]
    assert labels[0] == f"AnyNetXA | n=150 | min={100 * f.min:.1f} | mean={100 * f.mean:.1f}"
    assert len(fig.axes[0].collections) == 2  # one band a population
    _assert_nontrivial(fig)


def test_bootstrap_fit_complexity_and_random_search_figures_render(pops):
    df = pops["RegNetX"]
    labels, v = param_values(df, "depths")
    r = bootstrap_best(v, df["top1_err"], reps=1000, seed=0)
    fig = figure_of(plot_bootstrap(v, df["top1_err"], r, labels))
    assert len(fig.axes) == 4
    _assert_nontrivial(fig)
    fits = [fit_regnet(block_widths(x.depths, x.widths)) for x in df.head(3).itertuples()]
    _assert_nontrivial(plot_fits(fits))
    data = {
        k: {"error": p["top1_err"], "flops": p["flops"], "params": p["params"], "acts": p["acts"]}
        for k, p in pops.items()
    }
    fig = figure_of(plot_complexity(data))
    assert len(fig.axes) == 3
    _assert_nontrivial(fig)
    rs = {k: random_search_efficiency(p["top1_err"]) for k, p in pops.items()}
    _assert_nontrivial(plot_random_search(rs))


def test_save_figure_follows_the_extension(tmp_path, pops):
    fig = plot_edfs({"a": pops["AnyNetXA"]["top1_err"]})
    magic = {".png": b"\x89PNG", ".pdf": b"%PDF", ".svg": b"<?xml"}
    for ext, head in magic.items():
        path = save_figure(fig, tmp_path / f"edf{ext}")
        assert path.read_bytes().startswith(head)
    with pytest.raises(DsdError, match="extension"):
        save_figure(fig, tmp_path / "edf.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edf.pdf", "edf.png", "edf.svg"]


def test_figures_a_reader_can_read(pops):
    df = pops["AnyNetXA"]
    # per-stage widths span > 20x: every panel of the row is log, with plain integer ticks
    labels, v = param_values(df, "widths")
    r = bootstrap_best(v, df["top1_err"], reps=500, seed=0)
    fig = figure_of(plot_bootstrap(v, df["top1_err"], r, labels, error_label="top1_err_min (%)"))
    assert {ax.get_xscale() for ax in fig.axes} == {"log"}
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert ticks and all(t.isdigit() for t in ticks), ticks
    assert fig.axes[0].get_ylabel() == "top1_err_min (%)"
    # markers above the band, integer ticks for a linear integer parameter
    labels, v = param_values(df, "depths")
    r = bootstrap_best(v, df["top1_err"], reps=500)
    fig = figure_of(plot_bootstrap(v, df["top1_err"], r, labels))
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"
    assert ax.collections[0].get_zorder() > max(p.get_zorder() for p in ax.patches)
    assert all(float(t).is_integer() for t in ax.get_xticks())
    # the fit legend names space and error, and where the fit lies
    fit = fit_regnet([24] * 13 + [16] + [192] * 10 + [512], domain=UNBOUNDED)
    fig = figure_of(plot_fits([fit], ["AnyNetXE 12.3%"]))
    (label,) = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    # wa 3.3 is below the RegNet space file's wa >= 8 (see test_analysis_fit)
    assert label.startswith("AnyNetXE 12.3%: w0=24") and label.endswith("(outside: wa, wm)")
    # a normalised EDF's legend shows n and the effective n
    w = np.r_[np.full(9, 1.0), 9.0]
    f = edf(np.linspace(0.1, 0.5, 10), weights=w)
    fig = figure_of(plot_edfs({"A": f}, normalised=True))
    (label,) = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert f"n=10 (eff. {w.sum() ** 2 / (w**2).sum():.3g})" in label
