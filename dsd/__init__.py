"""dsd: design network design spaces (Radosavovic et al., CVPR 2020).

One pipeline, four artefacts::

    spaces/*.yaml --> Space --sample--> samples.parquet --train--> results.parquet --analyse--> report

Layers, each importing only from the ones above it:

0. :mod:`dsd.errors`, :mod:`dsd.io`, :mod:`dsd.schema`, :mod:`dsd.validate`: shared helpers
1. :mod:`dsd.nets`      what a network is: AnyNet/EfficientNet configs, RegNet widths, complexity, builder
2. :mod:`dsd.spaces`    what a design space is: YAML spaces, constraints, size, conditioned sampler
3. :mod:`dsd.trainer`   one model, one short schedule (``dsd.train`` is its entry point), timing
4. :mod:`dsd.sweep`     many models: executors (local, Slurm, Ray), resume, collection
5. :mod:`dsd.analysis`  populations: EDFs, KS, bootstrap, fits, refinement, figures, report
6. :mod:`dsd.pipeline`  run an experiment, then write its report
7. :mod:`dsd.cli`       the ``dsd`` command

The public API is importable from here; names load lazily so ``import dsd`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dsd._lazy import lazy_exports
from dsd._version import __version__

# public name -> module that defines it
_EXPORTS = {
    # nets
    "AnyNet": "dsd.nets",
    "regnet": "dsd.nets",
    "quantized_linear": "dsd.nets",
    "complexity": "dsd.nets",
    "complexity_batch": "dsd.nets",
    "build_model": "dsd.nets",
    "model_zoo": "dsd.nets",
    "zoo_model": "dsd.nets",
    "model_names": "dsd.nets",
    "baseline_models": "dsd.nets",
    "EfficientNet": "dsd.nets",
    # timing (trainer layer)
    "time_model": "dsd.trainer",
    "Timing": "dsd.trainer",
    # spaces
    "Space": "dsd.spaces",
    "load_space": "dsd.spaces",
    "list_spaces": "dsd.spaces",
    # train (the layer is the package dsd.trainer; dsd.train is its function)
    "train": "dsd.trainer",
    "TrainConfig": "dsd.trainer",
    "train_row": "dsd.trainer",
    # sweep
    "run_experiment": "dsd.pipeline",
    # design
    "DesignOptions": "dsd.design",
    "replay_chain": "dsd.design",
    "discover_chain": "dsd.design",
    "design_status": "dsd.design",
    "load_experiment": "dsd.sweep",
    "run_sweep": "dsd.sweep",
    "SweepOptions": "dsd.sweep",
    "run_status": "dsd.sweep",
    "ExecutorSettings": "dsd.sweep",
    # analysis
    "edf": "dsd.analysis",
    "complexity_weights": "dsd.analysis",
    "ks": "dsd.analysis",
    "bootstrap_best": "dsd.analysis",
    "fit_regnet": "dsd.analysis",
    "random_search_efficiency": "dsd.analysis",
    "derived_params": "dsd.analysis",
    "load_results": "dsd.analysis",
    "write_report": "dsd.analysis",
    "refine": "dsd.analysis",
    "compare": "dsd.analysis.compare",
    "write_refined_space": "dsd.analysis",
    "EDF": "dsd.analysis",
    "RegNetFit": "dsd.analysis",
    "runtime_correlations": "dsd.analysis.runtime",
    "published_figures": "dsd.analysis.runtime",
    "effnet_ratios": "dsd.analysis.runtime",
    # errors
    "DsdError": "dsd.errors",
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
