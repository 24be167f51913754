"""Orchestration above the sweep and analysis layers: run an experiment, then write its report.

The sweep (layer 4) trains and collects; analysis (layer 5) turns results into figures and
reports. Neither imports the other's later layer: ``dsd run`` (and :func:`run_experiment` here)
passes :func:`write_run_report` to the sweep as its report hook.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

from dsd.sweep.driver import SweepSummary
from dsd.sweep.run import run_experiment as _run_experiment
from dsd.sweep.store import RESULTS

#: The report ``dsd run`` writes into its run folder.
REPORT = "report.html"


def write_run_report(results: pd.DataFrame, run_dir: Path) -> Path | None:
    """Write ``RUN_DIR/report.html`` from a run's collected results, if any model is ok.

    The results are on disk already, so a failing report is a warning, not a failed run.
    """
    from dsd.analysis import write_report

    if not (results.get("status") == "ok").any():
        return None
    path = Path(run_dir) / REPORT
    try:
        write_report(results, path, sources=[str(Path(run_dir) / RESULTS)])
    except Exception as e:  # the analysis layer's problem; keep the sweep's result
        print(f"dsd: warning: report not written ({type(e).__name__}: {e})", file=sys.stderr)
        return None
    return path


def run_experiment(
    exp: Any, run_dir: str | Path, *, report: bool = True, **kw: Any
) -> SweepSummary:
    """Run (or resume) an experiment into ``run_dir`` and write its report (unless ``report=False``).

    Keyword arguments are those of :func:`dsd.sweep.run.run_experiment`.
    """
    return _run_experiment(exp, run_dir, report=write_run_report if report else None, **kw)
