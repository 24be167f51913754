"""Layer 6, the design loop (``dsd design``): the paper's procedure, run end to end.

A replay judges a chain given in advance; a discovery lets ``refine`` choose each step and a fresh
population confirm it (error control: docs/POPULATIONS.md §11).
"""

from dsd._lazy import lazy_exports

# loaded on first use: `dsd status` of a run folder asks is_design_folder without the analysis
_EXPORTS = {
    "DEMO_D": "dsd.design.compare",
    "PAPER": "dsd.design.compare",
    "DesignFolder": "dsd.design.folder",
    "DesignStatus": "dsd.design.folder",
    "design_status": "dsd.design.folder",
    "is_design_folder": "dsd.design.folder",
    "DesignOptions": "dsd.design.loop",
    "DesignSummary": "dsd.design.loop",
    "discover_chain": "dsd.design.loop",
    "replay_chain": "dsd.design.loop",
    "power_line": "dsd.design.compare",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("dsd.design", globals(), _EXPORTS)
