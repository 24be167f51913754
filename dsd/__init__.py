"""dsd: design network design spaces (Radosavovic et al., CVPR 2020).

One pipeline: spaces/*.yaml -> Space -> samples -> results -> report; its layers (README.md) import
only from the ones above them. The public API is importable from here, loaded lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dsd._lazy import lazy_exports
from dsd._version import __version__

# public name -> module that defines it
_EXPORTS = {
    name: module
    for module, names in {
        "dsd.nets": (
            "AnyNet regnet quantized_linear complexity complexity_batch "
            "build_model model_zoo zoo_model model_names baseline_models "
            "EfficientNet"
        ),
        "dsd.trainer": "time_model Timing train TrainConfig train_row",
        "dsd.spaces": "Space load_space list_spaces",
        "dsd.pipeline": "run_experiment",
        "dsd.design": "DesignOptions replay_chain discover_chain design_status",
        "dsd.sweep": "load_experiment run_sweep SweepOptions run_status ExecutorSettings",
        "dsd.analysis": (
            "edf complexity_weights ks bootstrap_best fit_regnet "
            "random_search_efficiency derived_params load_results write_report "
            "refine write_refined_space EDF RegNetFit"
        ),
        "dsd.analysis.compare": "compare",
        "dsd.analysis.runtime": "runtime_correlations published_figures effnet_ratios",
        "dsd.errors": "DsdError",
    }.items()
    for name in names.split()
}

if TYPE_CHECKING:  # what editors and type checkers see; tests keep it equal to _EXPORTS
    from dsd.analysis import (
        EDF,
        RegNetFit,
        bootstrap_best,
        complexity_weights,
        derived_params,
        edf,
        fit_regnet,
        ks,
        load_results,
        random_search_efficiency,
        refine,
        write_refined_space,
        write_report,
    )
    from dsd.analysis.compare import compare
    from dsd.analysis.runtime import effnet_ratios, published_figures, runtime_correlations
    from dsd.design import DesignOptions, design_status, discover_chain, replay_chain
    from dsd.errors import DsdError
    from dsd.nets import (
        AnyNet,
        EfficientNet,
        baseline_models,
        build_model,
        complexity,
        complexity_batch,
        model_names,
        model_zoo,
        quantized_linear,
        regnet,
        zoo_model,
    )
    from dsd.pipeline import run_experiment
    from dsd.spaces import Space, list_spaces, load_space
    from dsd.sweep import ExecutorSettings, SweepOptions, load_experiment, run_status, run_sweep
    from dsd.trainer import Timing, TrainConfig, time_model, train, train_row

__all__ = ["__version__", *sorted(_EXPORTS)]


__getattr__, __dir__ = lazy_exports("dsd", globals(), _EXPORTS)
