"""The foundation's command line: dsd spaces, show, sample; bad input gives one line and exit 2."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from dsd.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_spaces_lists_table_1(capsys):
    code, out, _ = run(capsys, "spaces")
    assert code == 0
    for name, paper in (
        ("AnyNetXA", "1.80e+18"),
        ("AnyNetXC", "3.20e+14"),
        ("AnyNetXE", "5.50e+11"),
        ("RegNet", "3.00e+08"),
    ):
        line = next(x for x in out.splitlines() if x.startswith(name + " "))
        assert paper in line
    assert "316,659,348,799,488" in out


def test_show_model_prints_the_published_figures(capsys):
    code, out, _ = run(capsys, "show", "RegNetX-400MF")
    assert code == 0 and "flops 397,678,568  params 5,157,512  acts 3,143,272" in out
    assert ["s4", "12", "384", "16", "1", "2"] in [line.split() for line in out.splitlines()]
    code, out, _ = run(capsys, "show", "regnety-400mf", "--layers")
    assert (
        code == 0
        and "s1.b1.f.se.reduce" in out
        and out.strip().splitlines()[-1].split()
        == ["total", "401,849,056", "4,344,144", "3,892,496"]
    )


def test_show_space(capsys):
    code, out, _ = run(capsys, "show", "AnyNetXC")
    assert code == 0 and "[shared]" in out and "316,659,348,799,488" in out


def test_sample_writes_the_schema(capsys, tmp_path):
    out_file = tmp_path / "s.parquet"
    code, out, _ = run(
        capsys,
        "sample",
        "--space",
        "AnyNetXC",
        "--n",
        "20",
        "--flops",
        "360M:400M",
        "--seed",
        "0",
        "-o",
        str(out_file),
    )
    assert code == 0 and "sampled 20 models" in out
    df = pd.read_parquet(out_file)
    expected = {
        "model_id",
        "space",
        "seed",
        "schema_version",
        "depths",
        "widths",
        "group_widths",
        "bottleneck_ratios",
        "strides",
        "stem",
        "stem_width",
        "block",
        "se_ratio",
        "head_width",
        "num_classes",
        "resolution",
        "flops",
        "params",
        "acts",
    }
    assert expected <= set(df.columns) and len(df) == 20 and df.flops.between(360e6, 400e6).all()
    code, _, _ = run(
        capsys,
        "sample",
        "--space",
        "RegNetX",
        "--n",
        "5",
        "--flops",
        "0.36e9:0.4e9",
        "-o",
        str(tmp_path / "r.csv"),
    )
    assert code == 0 and {"depth", "w0", "wa", "wm"} <= set(pd.read_csv(tmp_path / "r.csv").columns)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sample", "--space", "Nope", "--n", "5", "-o", "{out}"], "no space named 'Nope'"),
        (["sample", "--space", "AnyNetXA", "--n", "0", "-o", "{out}"], "--n: must be >= 1"),
        (
            ["sample", "--space", "AnyNetXA", "--n", "ten", "-o", "{out}"],
            "--n: 'ten' is not an integer",
        ),
        (
            ["sample", "--space", "AnyNetXA", "--n", "5", "--flops", "400M:360M", "-o", "{out}"],
            "reversed",
        ),
        (
            ["sample", "--space", "AnyNetXA", "--n", "5", "--flops", "lots", "-o", "{out}"],
            "not a range",
        ),
        (
            ["sample", "--space", "AnyNetXA", "--n", "5", "--flops", "1x:2x", "-o", "{out}"],
            "expected a number",
        ),
        (
            ["sample", "--space", "AnyNetXA", "--n", "5", "--flops", "1:2", "-o", "{out}"],
            "found only 0 of 5",
        ),
        (
            ["sample", "--space", "AnyNetXA", "--n", "5", "-o", "/nonexistent/dir/s.parquet"],
            "does not exist",
        ),
        (
            ["sample", "--space", "AnyNetXA", "--n", "5", "-o", "{tmp}/s.txt"],
            "unsupported extension",
        ),
        (["sample", "--space", "{bad}", "--n", "5", "-o", "{out}"], "unknown key 'stagez'"),
        (
            ["sample", "--space", "AnyNetXA", "--n", "5", "--wat", "-o", "{out}"],
            "unrecognized arguments: --wat",
        ),
        (["show", "RegNetZ-1GF"], "neither a model of the zoo"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(capsys, tmp_path, argv, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: AnyNetXA\nstagez: 3\n")
    out = tmp_path / "s.parquet"
    argv = [a.format(out=out, tmp=tmp_path, bad=bad) for a in argv]
    with (
        pytest.raises(SystemExit)
        if message.startswith(
            ("--n", "unrecognized", "reversed", "not a range", "expected a number")
        )
        else _noop() as e
    ):
        code = main(argv)
    if e is not None and hasattr(e, "value"):
        code = e.value.code
    _, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


class _noop:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_python_dash_m_dsd_and_an_existing_output_survives_a_failed_run(tmp_path):
    out = tmp_path / "keep.parquet"
    ok = subprocess.run(
        [sys.executable, "-m", "dsd", "sample", "--space", "AnyNetXB", "--n", "3", "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    before = out.read_bytes()
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "dsd",
            "sample",
            "--space",
            "AnyNetXB",
            "--n",
            "3",
            "--flops",
            "1:2",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert (
        bad.returncode == 2
        and len(bad.stderr.strip().splitlines()) == 1
        and "Traceback" not in bad.stderr
    )
    assert out.read_bytes() == before
