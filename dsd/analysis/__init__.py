"""dsd.analysis: populations of trained models — error EDFs, KS, bootstrap, fits, figures, report.

Layout::

    stats.py    edf, complexity_weights (normalised EDF), ks, bootstrap_best, random_search_efficiency
    fit.py      fit_regnet: the quantized linear form (w0, wa, wm, e_fit) of a model's block widths
    data.py     load_results (merge files, key=value filters, metric), derived_params (d, d1.., w1..,
                the drawn shared b, g, ...), regime_range (the sampling regime of the rows)
    tables.py   per-population summaries (n, effective n), normalisation (range from the regime,
                bin count without empty bins), KS matrix, bootstrap and fit tables
    figures.py  matplotlib figures (EDFs, bootstrap bands, fits, complexity), save_figure
    report.py   write_report: one self-contained HTML page
    refinement.py  refine: test candidate refinements of a space on one population (dsd refine)

Only dsd.errors, dsd.io (and the layers above: nets, spaces) are imported here.
"""

from dsd.analysis.data import derived_params, load_results
from dsd.analysis.figures import (
    check_figure_path,
    plot_bootstrap,
    plot_complexity,
    plot_edfs,
    plot_fits,
    plot_random_search,
    save_figure,
)
from dsd.analysis.fit import RegNetFit, block_widths, fit_regnet, quantized_linear_widths
from dsd.analysis.refinement import ks_sample_size, refine, write_refined_space
from dsd.analysis.report import build_report, write_report
from dsd.analysis.runtime import (
    compare_models,
    effnet_ratios,
    plot_comparison,
    plot_runtime,
    runtime_correlations,
)
from dsd.analysis.stats import (
    EDF,
    BootstrapResult,
    ConfidenceBand,
    KSResult,
    RandomSearchResult,
    bootstrap_best,
    complexity_weights,
    edf,
    ks,
    random_search_efficiency,
)

__all__ = [
    "EDF",
    "BootstrapResult",
    "ConfidenceBand",
    "KSResult",
    "RandomSearchResult",
    "RegNetFit",
    "block_widths",
    "bootstrap_best",
    "build_report",
    "check_figure_path",
    "compare_models",
    "complexity_weights",
    "derived_params",
    "edf",
    "effnet_ratios",
    "fit_regnet",
    "ks",
    "ks_sample_size",
    "load_results",
    "plot_bootstrap",
    "plot_comparison",
    "plot_complexity",
    "plot_edfs",
    "plot_fits",
    "plot_random_search",
    "plot_runtime",
    "quantized_linear_widths",
    "random_search_efficiency",
    "refine",
    "runtime_correlations",
    "save_figure",
    "write_refined_space",
    "write_report",
]
