"""dsd.analysis: populations of trained models — error EDFs, KS, bootstrap, fits, figures, report.

Each module imports only the ones before it: stats, page, fit, data, population, tables, figures,
compare, runtime, candidates, splits, commands, refinement, report. Errors are fractions in [0, 1]
in the API and in files, percent in figures, tables and printed text.
"""

from __future__ import annotations

from dsd._lazy import exports_of, lazy_exports

# bound here, not lazily: importing the submodule of the same name would shadow a lazy name
from dsd.analysis.compare import compare as compare

_NAMES = {
    "dsd.analysis.candidates": "Candidate default_candidates read_candidates",
    "dsd.analysis.commands": "Output bootstrap_command compare_command edf_command fit_command",
    "dsd.analysis.compare": "Comparison",
    "dsd.analysis.data": "REASONS derived_params load_results regime_range",
    "dsd.analysis.figures": "check_figure_path plot_bootstrap plot_complexity plot_edfs plot_fits "
    "plot_random_search save_figure",
    "dsd.analysis.fit": "UNBOUNDED FitDomain RegNetFit block_widths fit_regnet "
    "quantized_linear_widths regnet_domain",
    "dsd.analysis.page": "check_report_path",
    "dsd.analysis.population": "MAX_BINS AnalysisOptions Ledger Population Populations "
    "load_populations normalise",
    "dsd.analysis.refinement": "RefineOptions RefineRequest refine refine_command "
    "write_refined_space",
    "dsd.analysis.report": "build_report report_sections write_report",
    "dsd.analysis.runtime": "compare_models effnet_ratios plot_comparison plot_runtime "
    "read_timings runtime_correlations runtime_text",
    "dsd.analysis.stats": "ALPHA DIFFERENCE EDF MAX_REPS POWER BootstrapResult ConfidenceBand "
    "KSResult RandomSearchResult bootstrap_best complexity_weights edf ks "
    "ks_models_needed ks_power random_search_efficiency",
    "dsd.analysis.tables": "complexity_text",
}
_EXPORTS = exports_of(_NAMES)


__all__ = sorted([*_EXPORTS, "compare"])
__getattr__, __dir__ = lazy_exports("dsd.analysis", globals(), _EXPORTS)
