"""Layer 6, the design loop (``dsd design``): the paper's procedure, run end to end.

DDS designs a design space by steps: sample a population from a space, train it briefly, look at
its EDFs, add a constraint, and keep the refined space if a population of it is as good or
better (AnyNetXA -> XB -> XC -> XD -> XE -> RegNet). This package runs those steps with the
other layers' pieces (sampler, sweep, ``refine``'s statistics) and every guarantee of a run:

- :func:`replay_chain`: a chain given in advance (the paper's), one independent population a
  space, each child judged against its parent.
- :func:`discover_chain`: from one space, each step chosen by ``refine`` on the current
  population (the exploration) and accepted only if a *fresh* population of the refined space
  confirms it (improves or no loss) against the current one.
- :func:`design_status`: ``dsd status DIR`` of a design folder.

Error control (docs/POPULATIONS.md "The design loop"): a replay makes one test a step, at
``alpha``. A discovery makes each confirmation at ``alpha / (steps x tries)``, so the chance
that any step it accepts is a false "improves" (or a false "no loss") is at most ``alpha`` over
the whole chain. The exploration population chooses which hypothesis to test; the confirmation
population is sampled afresh (the sampler's streams are keyed on seed and space: a refined space
has its own), so it is independent of the choice, and the test's level holds given the choice.

- :mod:`~dsd.design.compare`  one step: child vs parent, the paper's verdicts, the panels
- :mod:`~dsd.design.loop`     the replay and the discovery, :class:`DesignOptions`
- :mod:`~dsd.design.folder`   the design folder: plan, lock, step records, status
- :mod:`~dsd.design.report`   ``chain.csv`` and ``report.html``
"""

from dsd._lazy import lazy_exports

# public name -> module that defines it (loaded on first use: `dsd status` of a run folder asks
# is_design_folder without importing the analysis)
_EXPORTS = {
    "DEMO_D": "dsd.design.compare",
    "PAPER": "dsd.design.compare",
    "compare": "dsd.design.compare",
    "DesignFolder": "dsd.design.folder",
    "DesignStatus": "dsd.design.folder",
    "design_status": "dsd.design.folder",
    "is_design_folder": "dsd.design.folder",
    "DesignOptions": "dsd.design.loop",
    "DesignSummary": "dsd.design.loop",
    "discover_chain": "dsd.design.loop",
    "replay_chain": "dsd.design.loop",
    "power_line": "dsd.design.report",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("dsd.design", globals(), _EXPORTS)
