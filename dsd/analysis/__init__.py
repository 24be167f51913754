"""dsd.analysis: populations of trained models — error EDFs, KS, bootstrap, fits, figures, report.

Layout (each module imports only the ones above it)::

    stats.py       edf, complexity_weights (normalised EDF), ks, ks_power, bootstrap_best,
                   random_search_efficiency; ALPHA, the one default significance level
    page.py        HTML pieces: CSS, note, section, table_html, figure_html, page (imports no analysis)
    fit.py         fit_regnet: the quantized linear form (w0, wa, wm, e_fit) of a model's block
                   widths, within the RegNet space (regnet_domain) or UNBOUNDED
    data.py        reading results (each file once, validated, repeats refused), why each row is
                   excluded, derived_params (d, d1.., w1.., the drawn shared b, g, ...), regime_range
    population.py  AnalysisOptions; load_populations -> Populations of Population values (rows,
                   Ledger, EDF, normalised EDF), loaded once; normalisation (NDS weights)
    tables.py      summaries with ledgers, KS matrix, bootstrap, per-population fit and best tables
    figures.py     matplotlib figures (EDFs, bootstrap bands, fits, complexity), ax= in, axes out
    compare.py     compare: KS verdicts in words, with their power
    runtime.py     runtime against complexity, published figures (DDS §5)
    candidates.py  Candidate, default_candidates, read_candidates: what dsd refine tests
    splits.py      how one split of a population is tested, and how verdicts are reached
    refinement.py  refine, RefineOptions, write_refined_space, refine_command (dsd refine)
    report.py      write_report: one self-contained HTML page (and its figures as files)
    commands.py    edf_command, bootstrap_command, fit_command, compare_command: what the CLI calls

Errors are fractions in [0, 1] in the API and in files, percent in figures, tables and printed
text. Only dsd.errors, dsd.io, dsd.schema (and the layers above: nets, spaces) are imported here.
"""

from dsd.analysis.candidates import Candidate, default_candidates, read_candidates
from dsd.analysis.commands import (
    Output,
    bootstrap_command,
    compare_command,
    edf_command,
    fit_command,
)
from dsd.analysis.compare import Comparison, compare
from dsd.analysis.data import REASONS, derived_params, load_results, regime_range
from dsd.analysis.figures import (
    check_figure_path,
    plot_bootstrap,
    plot_complexity,
    plot_edfs,
    plot_fits,
    plot_random_search,
    save_figure,
)
from dsd.analysis.fit import (
    UNBOUNDED,
    FitDomain,
    RegNetFit,
    block_widths,
    fit_regnet,
    quantized_linear_widths,
    regnet_domain,
)
from dsd.analysis.page import check_report_path
from dsd.analysis.population import (
    MAX_BINS,
    AnalysisOptions,
    Ledger,
    Population,
    Populations,
    load_populations,
    normalise,
)
from dsd.analysis.refinement import (
    RefineOptions,
    RefineRequest,
    refine,
    refine_command,
    write_refined_space,
)
from dsd.analysis.report import build_report, report_sections, write_report
from dsd.analysis.runtime import (
    compare_models,
    effnet_ratios,
    plot_comparison,
    plot_runtime,
    read_timings,
    runtime_correlations,
    runtime_text,
)
from dsd.analysis.stats import (
    ALPHA,
    DIFFERENCE,
    EDF,
    MAX_REPS,
    POWER,
    BootstrapResult,
    ConfidenceBand,
    KSResult,
    RandomSearchResult,
    bootstrap_best,
    complexity_weights,
    edf,
    ks,
    ks_models_needed,
    ks_power,
    random_search_efficiency,
)
from dsd.analysis.tables import complexity_text

__all__ = [
    "ALPHA",
    "DIFFERENCE",
    "EDF",
    "MAX_BINS",
    "MAX_REPS",
    "POWER",
    "REASONS",
    "UNBOUNDED",
    "AnalysisOptions",
    "BootstrapResult",
    "Candidate",
    "Comparison",
    "ConfidenceBand",
    "FitDomain",
    "KSResult",
    "Ledger",
    "Output",
    "Population",
    "Populations",
    "RandomSearchResult",
    "RefineOptions",
    "RefineRequest",
    "RegNetFit",
    "block_widths",
    "bootstrap_best",
    "bootstrap_command",
    "build_report",
    "check_figure_path",
    "check_report_path",
    "compare",
    "compare_command",
    "compare_models",
    "complexity_text",
    "complexity_weights",
    "default_candidates",
    "derived_params",
    "edf",
    "edf_command",
    "effnet_ratios",
    "fit_command",
    "fit_regnet",
    "ks",
    "ks_models_needed",
    "ks_power",
    "load_populations",
    "load_results",
    "normalise",
    "plot_bootstrap",
    "plot_comparison",
    "plot_complexity",
    "plot_edfs",
    "plot_fits",
    "plot_random_search",
    "plot_runtime",
    "quantized_linear_widths",
    "random_search_efficiency",
    "read_candidates",
    "read_timings",
    "refine",
    "refine_command",
    "regime_range",
    "regnet_domain",
    "report_sections",
    "runtime_correlations",
    "runtime_text",
    "save_figure",
    "write_refined_space",
    "write_report",
]
