"""Shared fixtures: one torch thread per test process; a real single-node Slurm cluster for the
sweep's Slurm tests.

The cluster comes from the local-slurm recipe (``<repo>/../shared/tools/local-slurm/start.sh``,
or the folder named by ``DSD_LOCAL_SLURM``). If it is already up (``.ci/run`` starts it) it is
used as is; otherwise it is started here and stopped after the session. Where it cannot run (not
root, no apt, no recipe) the Slurm tests FAIL with the reason, unless ``DSD_SKIP_SLURM=1`` says
to skip them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 900  # the first start installs Debian packages


def _recipe_dir() -> Path:
    """Where start.sh / stop.sh live."""
    return Path(os.environ.get("DSD_LOCAL_SLURM", REPO.parent / "shared" / "tools" / "local-slurm"))


def _slurm_up() -> bool:
    """Whether a Slurm controller answers and a node is usable."""
    if not shutil.which("sinfo"):
        return False
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10
        ).stdout
    except (subprocess.TimeoutExpired, OSError):
        return False
    return any(s.strip() in ("idle", "mixed", "allocated", "completing") for s in out.split())


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running local Slurm cluster (started and stopped here unless it already runs)."""
    if os.environ.get("DSD_SKIP_SLURM") == "1":
        pytest.skip("DSD_SKIP_SLURM=1: the Slurm tests were skipped on request")
    if _slurm_up():
        yield "already running"
        return
    recipe = _recipe_dir()
    start = recipe / "start.sh"
    if not start.exists():
        pytest.fail(
            f"Slurm tests need the local-slurm recipe at {recipe} (set DSD_LOCAL_SLURM, or "
            "DSD_SKIP_SLURM=1 to skip them explicitly)",
            pytrace=False,
        )
    if os.geteuid() != 0:
        pytest.fail(
            "Slurm tests start a local Slurm cluster and must run as root "
            "(or start Slurm first, or set DSD_SKIP_SLURM=1 to skip them explicitly)",
            pytrace=False,
        )
    proc = subprocess.run(
        ["bash", str(start)], capture_output=True, text=True, timeout=START_TIMEOUT_S
    )
    if proc.returncode != 0 or not _slurm_up():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        pytest.fail(f"could not start local Slurm with {start}:\n{tail}", pytrace=False)
    try:
        yield "started"
    finally:
        subprocess.run(["bash", str(recipe / "stop.sh")], capture_output=True, timeout=120)


@pytest.fixture
def one_torch_thread():
    """Tiny models train and run fastest on one torch thread, and are not starved when other
    processes share the two cores (two threads were up to 100x slower under load)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
