"""Shared fixtures: one torch thread per test process; a real single-node Slurm cluster for the
sweep's Slurm tests.

The Slurm tests use a cluster that is already up (``sinfo`` shows an idle node). The test session
never starts one and never installs anything: where none is up, the Slurm tests are skipped with
the reason and the command that starts the in-repo cluster (``ci/slurm/start.sh``, as root).
``DSD_SKIP_SLURM=1`` skips them even where a cluster is up. ``DSD_REQUIRE_SLURM=1`` (set by
``.ci/run``) turns any skip into a failure, so that CI cannot pass without them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
START = "sudo bash ci/slurm/start.sh"  # what a user runs to enable the Slurm tests


def slurm_state() -> str:
    """'' if a Slurm controller answers with a usable node, else why not (one line)."""
    if not shutil.which("sinfo"):
        return "no Slurm on this machine (sinfo not found)"
    try:
        proc = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10
        )
    except (subprocess.TimeoutExpired, OSError) as e:
        return f"sinfo did not answer ({e})"
    states = proc.stdout.split()
    if any(s.rstrip("*~#") in ("idle", "mixed", "allocated", "completing") for s in states):
        return ""
    err = (proc.stderr.strip().splitlines() or [""])[0]
    return f"no usable Slurm node (sinfo: {err or ' '.join(states) or 'no nodes'})"


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running Slurm cluster, or a skip (a failure under DSD_REQUIRE_SLURM=1) saying why."""
    why = slurm_state()
    if os.environ.get("DSD_SKIP_SLURM") == "1":
        why = "DSD_SKIP_SLURM=1 asks to skip them"
    if not why:
        return "running"
    message = f"Slurm tests need a running cluster: {why}; enable them with `{START}`"
    if os.environ.get("DSD_REQUIRE_SLURM") == "1":
        pytest.fail(f"{message} (DSD_REQUIRE_SLURM=1: they are mandatory here)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def one_torch_thread():
    """Tiny models train and run fastest on one torch thread, and are not starved when other
    processes share the two cores (two threads were up to 100x slower under load)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
