"""dsd edf / bootstrap / fit / report: outputs, the self-contained report, and bad inputs."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import D_STAR, synthetic_results
from scipy.stats import ks_2samp

from dsd.analysis import write_report
from dsd.cli import main
from dsd.errors import DsdError
from dsd.io import write_table


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("results")
    paths = {
        "a1": d / "a1.parquet",
        "a2": d / "a2.parquet",
        "r": d / "r.parquet",
    }
    write_table(synthetic_results(120, "AnyNetXA", 0), paths["a1"])
    write_table(synthetic_results(120, "AnyNetXA", 1), paths["a2"])
    write_table(synthetic_results(150, "RegNetX", 2, offset=-0.03, regnet=True), paths["r"])
    return {k: str(v) for k, v in paths.items()}


def test_edf_prints_one_row_a_space_and_writes_the_figure(files, tmp_path, capsys):
    out = tmp_path / "edf.png"
    assert main(["edf", files["a1"], files["a2"], files["r"], "-o", str(out)]) == 0
    table, ks = capsys.readouterr().out.split("\n\nKS between plain EDFs")
    lines = table.splitlines()
    assert lines[0] == "error: top1_err (top-1 error at the final epoch, %)"
    assert lines[1].split()[:6] == ["name", "n", "n_eff", "min%", "median%", "mean%"]
    rows = [line.split() for line in lines[2:]]
    assert [r[0] for r in rows] == ["AnyNetXA", "RegNetX"] and [r[1] for r in rows] == [
        "240",
        "150",
    ]
    assert out.read_bytes().startswith(b"\x89PNG")
    xa = pd.concat([pd.read_parquet(files[k]) for k in ("a1", "a2")])
    assert float(rows[0][3]) == pytest.approx(100 * xa["top1_err"].min(), abs=0.01)  # percent
    d = float(ks.splitlines()[2].split()[2])  # row AnyNetXA, column RegNetX
    a, r = (
        pd.concat([synthetic_results(120, "AnyNetXA", s) for s in (0, 1)]),
        synthetic_results(150, "RegNetX", 2, offset=-0.03, regnet=True),
    )
    assert d == pytest.approx(
        ks_2samp(a["top1_err"].dropna(), r["top1_err"].dropna()).statistic, abs=1e-3
    )


def test_edf_normalised_with_bands(files, tmp_path, capsys):
    out = tmp_path / "edf.pdf"
    argv = ["edf", files["a1"], files["r"], "--normalize", "flops", "--bins", "4", "--bands"]
    assert main([*argv, "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF")
    assert "n_eff" in capsys.readouterr().out


def test_bootstrap_table_covers_the_planted_depth(files, capsys):
    assert main(["bootstrap", files["a1"], files["a2"], "--param", "d", "--param", "depths"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0] == "best value of each parameter by top1_err (top-1 error at the final epoch, %)"
    )
    rows = [line.split() for line in lines[2:]]
    d = next(r for r in rows if r[1] == "d")
    assert float(d[2]) <= D_STAR <= float(d[4])
    assert [r[1] for r in rows] == ["d", "d1", "d2", "d3", "d4"]


def test_fit_prints_the_best_models_parameters(files, capsys):
    assert main(["fit", files["r"], "--top", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "best 5 models by top1_err (top-1 error at the final epoch, %)"
    assert lines[1].split() == [
        "model_id", "space", "top1_err%", "d", "w0", "wa", "wm", "e_fit", "in_space", "outside",
        "at_bound",
    ]  # fmt: skip
    assert len(lines) == 7
    assert all(float(line.split()[7]) == 0 for line in lines[2:])  # RegNets are fitted exactly


class _Page(HTMLParser):
    """Collects tags, image sources and every src/href attribute."""

    def __init__(self):
        super().__init__()
        self.tags, self.imgs, self.refs = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href"):
                self.refs.append(v)
            if tag == "img" and k == "src":
                self.imgs.append(v)


def test_report_is_one_self_contained_page(files, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", files["a1"], files["a2"], files["r"], "-o", str(out)]) == 0
    page = _Page()
    page.feed(out.read_text())
    assert len(page.imgs) >= 6
    for src in page.imgs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert all(r.startswith("data:") for r in page.refs)
    assert "script" not in page.tags and "link" not in page.tags
    text = out.read_text()
    for section in ("Summary", "Error EDFs", "KS statistic", "Bootstrap", "fits", "Best 10 models"):
        assert section in text


def test_write_report_accepts_a_dataframe(tmp_path):
    df = pd.concat([synthetic_results(60, "AnyNetXA", 0), synthetic_results(60, "AnyNetXE", 1)])
    path = write_report(df, tmp_path / "r.html", reps=500)
    assert path.stat().st_size > 10_000


def _assert_fails(argv, capsys, output):
    """Exit 2, exactly one line on stderr, and no output file."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert not output.exists()
    assert not list(output.parent.glob(f".{output.name}*"))  # no temporary left behind
    return err


@pytest.mark.parametrize("command", ["edf", "bootstrap", "fit", "report"])
def test_bad_inputs_exit_2_with_one_line_and_no_output(command, files, tmp_path, capsys):
    out = tmp_path / ("out.html" if command == "report" else "out.png")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 garbage")
    schemaless = tmp_path / "schemaless.parquet"
    write_table(pd.DataFrame({"a": [1, 2]}), schemaless)
    assert "no such file" in _assert_fails(
        [command, files["a1"], str(tmp_path / "missing.parquet"), "-o", str(out)], capsys, out
    )
    assert "corrupt.parquet" in _assert_fails(
        [command, files["a1"], str(corrupt), "-o", str(out)], capsys, out
    )
    assert "missing column" in _assert_fails(
        [command, str(schemaless), "-o", str(out)], capsys, out
    )
    _assert_fails([command, files["a1"], "--filter", "status", "-o", str(out)], capsys, out)
    _assert_fails([command, files["a1"], "--filter", "space=Nope", "-o", str(out)], capsys, out)


def test_bad_output_paths_are_refused_before_any_work(files, tmp_path, capsys):
    _assert_fails(
        ["edf", files["a1"], "-o", str(tmp_path / "edf.txt")], capsys, tmp_path / "edf.txt"
    )
    _assert_fails(
        ["report", files["a1"], "-o", str(tmp_path / "r.png")], capsys, tmp_path / "r.png"
    )
    missing_dir = tmp_path / "nope" / "edf.png"
    _assert_fails(["edf", files["a1"], "-o", str(missing_dir)], capsys, missing_dir)


@pytest.mark.parametrize("command", ["edf", "bootstrap", "fit", "report"])
def test_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    assert f"dsd {command} " in capsys.readouterr().out.split("examples:")[1]


@pytest.mark.parametrize("sizes", [(1,), (2,), (1, 5)])
def test_report_of_tiny_populations(tmp_path, sizes):
    # a demo sweep may have a handful of ok models: every section copes or says why it is absent
    df = pd.concat([synthetic_results(n, f"S{i}", i) for i, n in enumerate(sizes)])
    page = _Page()
    page.feed(write_report(df, tmp_path / "r.html", reps=200).read_text())
    assert len(page.imgs) >= 3


def test_report_without_architecture_columns(tmp_path):
    df = synthetic_results(20).drop(columns=["flops", "params", "acts", "depths", "widths"])
    text = write_report(df, tmp_path / "r.html", reps=200).read_text()
    assert "Error EDFs" in text and "quantized linear fits" not in text.lower()


def test_metric_is_chosen_and_named(files, tmp_path, capsys):
    assert main(["edf", files["a1"], files["r"], "--metric", "top1_err_min"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("error: top1_err_min (best top-1 error over epochs")
    rows = [line.split() for line in out.splitlines()[2:4]]
    a1 = pd.read_parquet(files["a1"])
    assert float(rows[0][3]) == pytest.approx(100 * a1["top1_err_min"].min(), abs=0.01)
    report = tmp_path / "r.html"
    _assert_fails(["report", files["a1"], "--metric", "nope", "-o", str(report)], capsys, report)


def test_an_empty_bin_is_a_note_not_a_missing_section(tmp_path, capsys):
    a = synthetic_results(40, "AnyNetXA", 0, regime=(0, 1e12))  # flops use a sliver of the regime
    e = synthetic_results(40, "AnyNetXE", 1, regime=(0, 1e12))
    write_table(pd.concat([a, e]), tmp_path / "x.parquet")
    assert main(["edf", str(tmp_path / "x.parquet"), "--normalize", "flops"]) == 0
    out = capsys.readouterr().out
    assert "10 bins were requested but" in out and "KS between normalised EDFs" in out
    path = write_report(pd.concat([a, e]), tmp_path / "r.html", reps=200)
    text = path.read_text()
    assert "Normalised EDFs (flops)" in text and "not drawn" not in text
    assert "10 bins were requested but" in text


def test_fit_fits_each_population_separately_within_the_regnet_space(tmp_path, capsys):
    # a demo-like pair: RegNetX's models are better, so a ranking across spaces is mostly RegNetX
    xa = synthetic_results(20, "AnyNetXA", 3, failed=0)
    rx = synthetic_results(20, "RegNetX", 4, failed=0, regnet=True, offset=-0.02)
    both = pd.concat([xa, rx], ignore_index=True)
    assert (both.nsmallest(20, "top1_err")["space"] == "RegNetX").sum() > 10
    write_table(both, tmp_path / "mix.parquet")
    assert (
        main(["fit", str(tmp_path / "mix.parquet"), "--top", "5", "-o", str(tmp_path / "f.png")])
        == 0
    )
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "best 5 models of each space by top1_err (top-1 error at the final epoch, %)"
    rows = [line.split() for line in lines[2:]]
    assert [r[1] for r in rows] == ["AnyNetXA"] * 5 + ["RegNetX"] * 5
    best_xa = xa.nsmallest(5, "top1_err")["model_id"].tolist()
    assert [r[0] for r in rows[:5]] == best_xa
    assert all(r[8] == "True" for r in rows)  # within the RegNet space by default
    assert all(float(r[7]) == 0 for r in rows[5:])  # RegNets, fitted exactly
    assert "RegNetX: its models are RegNets" in err and "e_fit is 0 by construction" in err
    assert "AnyNetXA: 20 rows read, 20 used" in err
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")
    assert main(["fit", str(tmp_path / "mix.parquet"), "--top", "2", "--unbounded"]) == 0
    assert "unbounded fits" in capsys.readouterr().out.splitlines()[0]


def test_the_edf_ledger_names_every_row_not_used(tmp_path, capsys):
    df = synthetic_results(150, "AnyNetXA", 0, failed=0)
    df.loc[:49, "top1_err"] = np.nan
    write_table(df, tmp_path / "r.parquet")
    assert main(["edf", str(tmp_path / "r.parquet")]) == 0
    out, err = capsys.readouterr()
    header, row = out.splitlines()[1].split(), out.splitlines()[2].split()
    assert header[-3:] == ["read", "excluded", "edf_mean%"] and row[1] == "100"
    assert row[-3:-1] == ["150", "50"]
    assert "note: AnyNetXA: 150 rows read, 100 used; excluded: 50 non-finite top1_err" in err


def test_normalise_is_spelled_once_and_bins_are_bounded(files, capsys):
    outs = []
    for flag in ("--normalise", "--normalize"):
        assert main(["edf", files["a1"], files["r"], flag, "flops", "--bins", "4"]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and "normalised EDFs:" in outs[0]
    assert main(["edf", files["a1"], "--normalise", "flops", "--bins", "2147483647"]) == 2
    assert "bins must be from 1 to 1000" in capsys.readouterr().err
    # more bins than models: the search starts at the population size, with a note
    assert main(["edf", files["r"], "--normalise", "flops", "--bins", "1000"]) == 0
    assert "bin counts above 150 leave a bin empty" in capsys.readouterr().out


def test_complexity_reads_in_units():
    from dsd.analysis.tables import complexity_text

    assert complexity_text(562506) == "0.563 MF" and complexity_text(4.0e9) == "4 GF"
    assert complexity_text(397678568) == "398 MF"
    assert complexity_text(5157512, "params") == "5.16 M" and complexity_text(np.nan) == "-"


def test_report_exports_each_figure_and_states_ledger_and_verdicts(files, tmp_path):
    figs = tmp_path / "figs"
    path = write_report(
        [files["a1"], files["r"]], tmp_path / "r.html", reps=200, figures=figs, params=("d",)
    )
    page = _Page()
    text = path.read_text()
    page.feed(text)
    written = sorted(p.name for p in figs.iterdir())
    assert len(written) == len(page.imgs) and all(n.endswith(".png") for n in written)
    assert {"edf.png", "edf_normalised.png", "random_search.png", "complexity.png"} <= set(written)
    assert all((figs / n).read_bytes().startswith(b"\x89PNG") for n in written)
    assert "Rows read, used and excluded" in text and "Verdicts" in text
    assert "<th>read</th>" in text and "<th>failed</th>" in text  # the ledger table
    assert " MF<" in text or " GF<" in text  # complexity in units in the tables
    svg = write_report(files["r"], tmp_path / "s.html", reps=200, params=("d",),
                       figures=tmp_path / "svg", figure_format="svg")  # fmt: skip
    assert svg.exists() and (tmp_path / "svg" / "edf.svg").read_bytes().startswith(b"<?xml")


def test_an_internal_error_names_a_file_of_the_package_not_a_folder_called_dsd(
    files, capsys, monkeypatch, tmp_path
):
    """The cause raised in a file under some other folder named dsd (a checkout is often called
    dsd) is not taken for the package's: the line names dsd's own innermost frame."""
    import dsd.analysis

    fake = tmp_path / "dsd" / "tests" / "fake.py"
    namespace: dict = {}
    exec(compile("def broken(*a, **k):\n    return 1 / 0\n", str(fake), "exec"), namespace)
    monkeypatch.setattr(dsd.analysis, "edf_command", namespace["broken"])
    assert main(["edf", files["a1"]]) == 70
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "(at dsd/cli/analysis_cmd.py:" in line and "fake.py" not in line


def test_an_unexpected_exception_is_one_line_with_exit_70(files, capsys, monkeypatch):
    import dsd.analysis

    def broken(*args, **kwargs):
        return 1 / 0

    monkeypatch.setattr(dsd.analysis, "edf_command", broken)
    assert main(["edf", files["a1"]]) == 70
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("dsd edf: internal error: ZeroDivisionError: division by zero (at ")
    assert "(at dsd/cli/analysis_cmd.py:" in line and line.endswith(
        "please report it; DSD_TRACEBACK=1 shows the traceback"
    )
    monkeypatch.setenv("DSD_TRACEBACK", "1")
    with pytest.raises(ZeroDivisionError):
        main(["edf", files["a1"]])


def test_plot_functions_draw_on_the_axes_given_and_return_them(files):
    from matplotlib.figure import Figure

    from dsd.analysis import edf, plot_bootstrap, plot_edfs

    fig = Figure()
    ax = fig.add_subplot(1, 2, 2)
    assert plot_edfs({"a": edf([0.2, 0.3])}, ax=ax) is ax and len(ax.lines) == 1
    axes = Figure().subplots(1, 2)
    r = dsd_bootstrap = __import__("dsd").bootstrap_best(np.arange(8.0), np.linspace(0.2, 0.5, 8))
    got = plot_bootstrap(np.arange(8.0), np.linspace(0.2, 0.5, 8), r, ["d"], ax=axes[:1])
    assert got[0] is axes[0] and dsd_bootstrap is r
    with pytest.raises(DsdError, match="1 panel"):
        plot_bootstrap(np.arange(8.0), np.linspace(0.2, 0.5, 8), r, ["d"], ax=axes)


def test_runtime_compares_named_models_even_below_three(tmp_path, capsys):
    from dsd.analysis import runtime_text

    times = pd.DataFrame(
        {
            "model": ["EfficientNet-B0", "RegNetY-400MF"],
            "model_id": ["a", "b"],
            "flops": [385825092, 397678568],
            "acts": [6748036, 3143272],
            "infer_ms_per_image": [6.0, 2.0],
            "train_ms_per_image": [30.0, 10.0],
        }
    )
    text = runtime_text(times)
    assert "correlations need at least 3" in text and "EfficientNet-B0" in text
    assert "3.00" in text  # the measured B0 / 400MF inference ratio
    times.to_csv(tmp_path / "t.csv", index=False)
    assert main(["runtime", str(tmp_path / "t.csv")]) == 0
    assert "EfficientNet / RegNetY" in capsys.readouterr().out
