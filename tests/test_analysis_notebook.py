"""notebooks/explore_spaces.ipynb runs top to bottom in this interpreter's environment."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore_spaces.ipynb"


def test_explore_spaces_notebook_executes(tmp_path, monkeypatch):
    # a kernel spec that runs *this* interpreter (the venv's), found first on JUPYTER_PATH
    spec_dir = tmp_path / "kernels" / "dsd-test"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "dsd test",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="dsd-test", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5  # complexity, EDFs, normalised EDFs, bootstrap, fits, random search
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "best d:" in text and "report:" in text
