"""notebooks/explore_spaces.ipynb runs top to bottom in this interpreter's environment: on its own
synthetic table, and with its parameter cell pointing at a real small run (``dsd run`` of two
spaces on the embedded digits data), as papermill would inject the parameters."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dsd.analysis import block_widths, fit_regnet
from dsd.cli import main

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytestmark = pytest.mark.slow  # a kernel a test, and a real run of 16 models

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore_spaces.ipynb"
#: A real small run: 2 spaces x 8 models, 1 epoch at 8x8 on digits (tens of seconds on 2 cores).
TINY = {
    "name": "notebook_tiny",
    "spaces": ["AnyNetXA", "RegNetX"],
    "n": 8,
    "flops": ["0.2M", "0.8M"],
    "resolution": 8,
    "num_classes": 10,
    "dataset": "digits",
    "epochs": 1,
    "recipe": {"batch_size": 128, "num_workers": 0, "device": "cpu"},
    "seeds": [0],
    "executor": {"kind": "local", "slots": 2, "threads_per_slot": 1},
}
#: The figures the notebook writes to OUT for two populations A and B.
FIGURES = ("complexity", "edf", "edf_normalised", "fits", "random_search")
LEDGER = re.compile(r"^ledger: (\S+): (\d+) rows read, (\d+) used(?:; excluded: (.*))?$", re.M)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A kernel spec that runs *this* interpreter (the venv's), found first on JUPYTER_PATH."""
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / "dsd-test"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "dsd test",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(root))
        yield "dsd-test"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A finished real run folder (no report: the notebook writes its own)."""
    root = tmp_path_factory.mktemp("notebook_run")
    exp = root / "tiny.yaml"
    exp.write_text(yaml.safe_dump(TINY))
    assert main(["run", str(exp), "-o", str(root / "run"), "--quiet", "--no-report"]) == 0
    return root / "run"


def execute(kernel: str, cwd: Path, **parameters):
    """Run the notebook in ``cwd`` with ``parameters`` injected after its parameter cell."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "the notebook has one cell tagged 'parameters'"
    if parameters:
        source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
        nb.cells.insert(tagged[0] + 1, cell)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name=kernel, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()  # returns once the kernel has shut down
    return nb


def outputs(nb) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def stream(nb, name: str = "stdout") -> str:
    return "".join(o.text for o in outputs(nb) if o.output_type == "stream" and o.name == name)


def plain(nb) -> str:
    """Every text shown: printed lines and the plain-text form of displayed tables."""
    shown = [o.get("data", {}).get("text/plain", "") for o in outputs(nb)]
    return stream(nb) + "\n".join(shown)


def assert_clean(nb) -> None:
    """No error output and nothing alarming on stderr."""
    assert not [o for o in outputs(nb) if o.output_type == "error"]
    err = stream(nb, "stderr")
    assert not re.search(r"Traceback|Error|Warning", err), err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_explore_spaces_notebook_executes(kernel, tmp_path):
    nb = execute(kernel, tmp_path)  # RESULTS = None: the synthetic table
    assert_clean(nb)
    images = [o for o in outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 5  # complexity, EDFs, normalised EDFs, bootstrap, fits, random search
    text = stream(nb)
    assert "best d:" in text and "report:" in text
    assert "regime: flops 360 MF to 400 MF (from the rows' regime column)" in text
    assert "populations: AnyNetXA, AnyNetXC, AnyNetXE, RegNetX" in text
    out = tmp_path / "explore_spaces_out"  # OUT's default, relative to the notebook's folder
    assert (out / "report.html").stat().st_size > 0  # kept after the kernel exited
    assert f"report: {out / 'report.html'}" in text
    for name in (*FIGURES, "bootstrap_depths_AnyNetXE"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_notebook_on_a_real_run(kernel, tiny_run, tmp_path):
    results = tiny_run / "results.parquet"
    before = digest(results)
    out = tmp_path / "out"
    nb = execute(kernel, tmp_path, RESULTS=str(tiny_run), OUT=str(out))
    assert_clean(nb)
    text, shown = stream(nb), plain(nb)
    df = pd.read_parquet(results)
    # the ledger printed is the run's own count of rows, used and excluded, space by space
    ledger = {m[0]: m for m in LEDGER.findall(text)}
    assert sorted(ledger) == sorted(TINY["spaces"])
    for space, rows in df.groupby("space"):
        used = (rows["status"] == "ok") & np.isfinite(rows["top1_err"].astype(float))
        _, read, n_used, excluded = ledger[space]
        assert (int(read), int(n_used)) == (len(rows), int(used.sum())) == (TINY["n"], used.sum())
        assert sum(int(n) for n in re.findall(r"(\d+) ", excluded)) == len(rows) - used.sum()
        # errors in percent: the best error of the space, as the summary shows it
        assert f"{100 * rows.loc[used, 'top1_err'].min():.2f}" in shown
    # everything else derived from the data: the experiment's regime, its spaces
    assert "regime: flops 0.2 MF to 0.8 MF (from the rows' regime column)" in text
    assert "populations: AnyNetXA, RegNetX; metric: top1_err" in text
    assert f"results: {results}" in text
    # fits of each space's best models, named by space and rank (never by a model id), of the
    # widths as built (the best models of this run were changed by the compatibility rule)
    assert not [m for m in df["model_id"] if m in shown]
    for space, rows in df.groupby("space"):
        best = rows.sort_values("top1_err", kind="stable").head(3)
        for rank, r in enumerate(best.itertuples(), start=1):
            fit = fit_regnet(block_widths(r.depths, r.built_widths))
            label = re.escape(f"{space} #{rank} ({100 * r.top1_err:.1f}%)")
            row = re.search(rf"^{label}\s+(\d+)\s+(\d+)\s+\S+\s+\S+\s+([\d.]+)", shown, re.M)
            assert row, f"no fit row for {space} #{rank}"
            assert (int(row[1]), int(row[2])) == (sum(r.depths), fit.w0)
            assert float(row[3]) == pytest.approx(fit.e_fit, abs=5e-4)
    # the figures and the report are in OUT, kept after the kernel exited; the run is untouched
    for name in (*FIGURES, "bootstrap_depths_AnyNetXA", "bootstrap_depths_RegNetX"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"figure: {out / name}.png" in text
    page = (out / "report.html").read_text()
    assert f"report: {out / 'report.html'}" in text
    assert "AnyNetXA" in page and "RegNetX" in page and "rows read" in page.lower()
    assert digest(results) == before


def test_notebook_parameters_choose_spaces_regime_and_metric(kernel, tiny_run, tmp_path):
    # the run's results with RegNetX rows that are not analysed: 2 failed, 1 diverged, 1 without
    # a finite top1_err_min; only RegNetX asked for, in a given regime, by the best-epoch error
    df = pd.read_parquet(tiny_run / "results.parquet")
    rows = df.index[df["space"] == "RegNetX"]
    df.loc[rows[:2], ["status", "top1_err", "top1_err_min"]] = ["failed", np.nan, np.nan]
    df.loc[rows[2], "status"] = "diverged"
    df.loc[rows[3], "top1_err_min"] = np.nan
    edited = tmp_path / "edited.parquet"
    df.to_parquet(edited)
    out = tmp_path / "out"
    nb = execute(
        kernel,
        tmp_path,
        RESULTS=str(edited),
        SPACES=["RegNetX"],
        REGIME="0.3M:0.7M",
        METRIC="top1_err_min",
        OUT=str(out),
    )
    assert_clean(nb)
    text = stream(nb)
    assert "ledger: AnyNetXA: 8 rows read, 0 used; excluded: 8 filtered out\n" in text
    assert (
        "ledger: RegNetX: 8 rows read, 4 used; excluded: 2 failed, 1 diverged, "
        "1 non-finite top1_err_min\n" in text
    )
    assert "regime: flops 0.3 MF to 0.7 MF (from REGIME)" in text
    assert "of given range [3e+05, 7e+05] (NDS)" in text  # the normalised EDFs' weights
    assert "populations: RegNetX; metric: top1_err_min" in text
    assert "one population (RegNetX): nothing to compare it with" in text
    best = df.loc[rows[4:], "top1_err_min"].min()
    assert f"{100 * best:.2f}" in plain(nb) and f"RegNetX #1 ({100 * best:.1f}%)" in plain(nb)
    assert "AnyNetXA #1" not in plain(nb)
    assert (out / "report.html").stat().st_size > 0


@pytest.mark.parametrize(
    ("where", "parameters", "error"),
    [
        ("missing.parquet", {}, "DataError: missing.parquet: no such file"),
        ("empty_folder", {}, "DataError: empty_folder: no results.parquet"),
        ("run", {"SPACES": ["AnyNetXA", "No"]}, "DataError: SPACES: no rows of No (the results"),
        ("run", {"REGIME": "360M:"}, "DsdError: REGIME: '360M:' needs both ends"),
        ("run", {"REGIME": "400M:360M"}, "DsdError: REGIME: '400M:360M' is reversed"),
    ],
)
def test_notebook_names_bad_parameters(kernel, tiny_run, tmp_path, where, parameters, error):
    (tmp_path / "empty_folder").mkdir()
    results = tiny_run if where == "run" else tmp_path / where
    before = digest(tiny_run / "results.parquet")
    with pytest.raises(nbclient.exceptions.CellExecutionError) as info:
        execute(kernel, tmp_path, RESULTS=str(results), OUT=str(tmp_path / "o"), **parameters)
    ename, message = error.split(": ", 1)
    assert info.value.ename == ename and message in info.value.evalue
    assert not (tmp_path / "o" / "report.html").exists()
    assert digest(tiny_run / "results.parquet") == before
