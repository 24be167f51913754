"""Every table-reading command, fed damaged tables: exit 0, or exit 2 with one line; never a
traceback, never the CLI's last resort (exit 70: an exception dsd did not expect).

A damage is a change to a valid table (wrong types, NaN / inf, lists of the wrong length, text
in numeric columns, a missing column, a future schema, no rows, binary garbage, a damaged
regime). Each is applied to the base table a command reads (results for the analysis commands,
samples for ``train`` and ``time``, timings for ``runtime``, a run folder for ``status``) and
written as parquet (JSON lines or CSV where parquet cannot hold the damage). The commands run
in-process through :func:`dsd.cli.main` on small tables, so the whole grid takes a few seconds.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import synthetic_results

from dsd.cli import main


def _results() -> pd.DataFrame:
    """12 trained models (2 spaces, one failed) sampled in a flops regime."""
    a = synthetic_results(6, "AnyNetXA", 0, failed=1, regime=(1e7, 4e10))
    c = synthetic_results(5, "AnyNetXC", 1, failed=0, regime=(1e7, 4e10))
    return pd.concat([a, c], ignore_index=True)


def _samples() -> pd.DataFrame:
    """Three sampled 16x16 models (what ``dsd train`` and ``dsd time`` read)."""
    from dsd.spaces import load_space

    return load_space("AnyNetXA").sample(
        3, seed=0, resolution=16, num_classes=10, flops=(0.5e6, 2e6)
    )


def _timings() -> pd.DataFrame:
    """Timed models, two of them named (what ``dsd runtime`` reads)."""
    rng = np.random.default_rng(0)
    acts = rng.uniform(1e6, 2e7, 6)
    return pd.DataFrame(
        {
            "model": ["EfficientNet-B0", "RegNetY-400MF", None, None, None, None],
            "model_id": [f"m{i}" for i in range(6)],
            "flops": acts * 50,
            "acts": acts,
            "params": rng.uniform(1e6, 1e7, 6),
            "infer_ms_per_image": 1e-7 * acts,
            "train_ms_per_image": 3e-7 * acts,
            "time_device": "cpu",
        }
    )


def _set(column: str, value, rows=slice(0, 2)):
    """A damage: ``column`` of ``rows`` set to ``value`` (an object column, so anything fits)."""

    def damage(df: pd.DataFrame) -> pd.DataFrame | None:
        if column not in df.columns:
            return None
        df = df.copy()
        df[column] = df[column].astype(object)
        idx = df.index[rows]
        for i in idx:
            df.at[i, column] = value
        return df

    return damage


def _drop(column: str):
    return lambda df: df.drop(columns=column) if column in df.columns else None


DAMAGES = {
    "flops-text": _set("flops", "abc"),
    "flops-inf": _set("flops", float("inf")),
    "flops-nan-all": _set("flops", float("nan"), slice(None)),
    "flops-negative": _set("flops", -5.0),
    "flops-list": _set("flops", [1, 2]),
    "err-text": _set("top1_err", "low"),
    "err-inf": _set("top1_err", float("inf")),
    "err-nan-all": _set("top1_err", float("nan"), slice(None)),
    "err-percent": _set("top1_err", 37.5),
    "err-equal": _set("top1_err", 0.3, slice(None)),
    "err-bool": _set("top1_err", True),
    "status-OK": _set("status", "OK"),
    "status-missing": _set("status", None),
    "status-number": _set("status", 1.0),
    "space-missing": _set("space", None),
    "space-number": _set("space", 7),
    "model_id-missing": _set("model_id", None),
    "seed-nan": _set("train_seed", float("nan"), slice(None)),
    "schema-inf": _set("schema_version", float("inf")),
    "schema-future": _set("schema_version", 99),
    "schema-half": _set("schema_version", 1.5),
    "schema-text": _set("schema_version", "two"),
    "widths-short": _set("widths", [8, 16]),
    "widths-empty": _set("widths", []),
    "widths-text": _set("widths", "wide"),
    "widths-strings": _set("widths", ["a", "b", "c", "d"]),
    "depths-nan": _set("depths", [1.0, float("nan"), 2.0, 3.0]),
    "depths-huge": _set("depths", [200, 1, 1, 1]),  # deeper builds exhaust memory in `dsd time`
    "built-short": _set("built_widths", [8]),
    "regime-text": _set("regime", '{"flops": ["a", "b"]}'),
    "regime-null": _set("regime", '{"flops": [null, 2e6]}'),
    "regime-narrow": _set("regime", '{"flops": [1.0, 2.0]}', slice(None)),
    "regime-reversed": _set("regime", '{"flops": [5e6, 1e6]}'),
    "regime-garbage": _set("regime", "not json"),
    "regime-list": _set("regime", "[1, 2]"),
    "lr-inf": _set("lr", float("inf")),
    "epochs-text": _set("epochs", "ten"),
    "resolution-text": _set("resolution", "big"),
    "time-text": _set("infer_ms_per_image", "fast"),
    "time-inf": _set("infer_ms_per_image", float("inf")),
    "acts-nan-all": _set("acts", float("nan"), slice(None)),
    "no-model_id": _drop("model_id"),
    "no-space": _drop("space"),
    "no-status": _drop("status"),
    "no-top1_err": _drop("top1_err"),
    "no-depths": _drop("depths"),
    "no-flops": _drop("flops"),
    "no-regime": _drop("regime"),
    "no-rows": lambda df: df.iloc[:0],
}
RAW = {  # files that are not tables at all
    "garbage.parquet": b"PAR1\x00\xff\xfe garbage \x00" * 20,
    "garbage.csv": b"\x00\x01\x02\xff\xfe\n,,,\n\x00",
    "garbage.json": b"{not json at all\n\xff",
    "empty.csv": b"",
    "empty.parquet": b"",
    "header.csv": b"model_id,space,status,top1_err\n",
}

FAST_TIME = ["--repeats", "1", "--warmup", "0", "--batch-size", "1", "--no-train", "--no-progress"]
COMMANDS = {  # name -> (base table, argv given the input path and a folder for outputs)
    "edf": (_results, lambda p, o: ["edf", p]),
    "edf-normalise": (
        _results,
        lambda p, o: ["edf", p, "--normalise", "flops", "-o", f"{o}/e.png"],
    ),
    "bootstrap": (_results, lambda p, o: ["bootstrap", p, "--reps", "50", "--param", "widths"]),
    "fit": (_results, lambda p, o: ["fit", p, "--top", "2"]),
    "compare": (_results, lambda p, o: ["compare", p]),
    "report": (
        _results,
        lambda p, o: ["report", p, "--top", "2", "--param", "d", "-o", f"{o}/r.html"],
    ),
    "refine": (_results, lambda p, o: ["refine", p, "--space", "AnyNetXA", "--reps", "20"]),
    "time": (_samples, lambda p, o: ["time", p, "-o", f"{o}/t.parquet", *FAST_TIME]),
    "runtime": (_timings, lambda p, o: ["runtime", p]),
    "train": (_samples, lambda p, o: ["train", p, "-o", f"{o}/r.parquet", "--limit", "0"]),
}


def _write(df: pd.DataFrame, folder: Path) -> Path:
    """``df`` as parquet, else JSON lines, else CSV (whichever can hold the damage)."""
    for suffix, write in (
        (".parquet", lambda path: df.to_parquet(path, index=False)),
        (".json", lambda path: df.to_json(path, orient="records", lines=True)),
        (".csv", lambda path: df.to_csv(path, index=False)),
    ):
        path = folder / f"table{suffix}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                write(path)
            return path
        except Exception:  # a format that cannot hold the damage: try the next
            path.unlink(missing_ok=True)
    raise AssertionError("no format holds this table")


_BASES: dict = {}


def _base(make) -> pd.DataFrame:
    if make not in _BASES:
        _BASES[make] = make()
    return _BASES[make]


def _cases():
    for command in COMMANDS:
        for damage in DAMAGES:
            yield command, damage
        for raw in RAW:
            yield command, raw


def _check(argv: list[str], capsys) -> tuple[int, str]:
    with warnings.catch_warnings(record=True) as shown:  # a warning would be a line on stderr
        warnings.simplefilter("always")
        try:
            code = main(argv)
        except SystemExit as e:  # argparse
            code = e.code
    err = capsys.readouterr().err
    assert not [str(w.message) for w in shown], err
    assert "Traceback" not in err, err
    assert code in (0, 2), f"exit {code}: {err}"
    if code == 2:
        lines = err.strip("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith("dsd"), err
    return code, err


@pytest.mark.parametrize(("command", "damage"), list(_cases()))
def test_a_damaged_table_ends_in_exit_0_or_one_line_and_exit_2(command, damage, tmp_path, capsys):
    make, argv = COMMANDS[command]
    if damage in RAW:
        path = tmp_path / damage
        path.write_bytes(RAW[damage])
    else:
        df = DAMAGES[damage](_base(make))
        if df is None:  # the base table of this command has no such column: the table is intact
            df = _base(make)
        path = _write(df, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    _check(argv(str(path), str(out)), capsys)


def _run_folder(root: Path, plan, records: dict[str, bytes]) -> Path:
    run = root / "run"
    for d in ("records", "claims", "attempts"):
        (run / d).mkdir(parents=True)
    (run / "plan.json").write_text(plan if isinstance(plan, str) else json.dumps(plan))
    for name, data in records.items():
        (run / "records" / f"{name}.json").write_bytes(data)
    return run


TASK = "AnyNetXA-0-0123abcd-s0"
STATUS_CASES = {
    "plan-garbage": ("{not json", {}),
    "plan-list": ([1, 2], {}),
    "plan-tasks-numbers": ({"tasks": [1, 2]}, {}),
    "plan-tasks-text": ({"tasks": "abc"}, {}),
    "record-garbage": ({"tasks": [TASK]}, {TASK: b"\xff\x00garbage"}),
    "record-list": ({"tasks": [TASK]}, {TASK: b"[1, 2, 3]"}),
    "record-status-list": ({"tasks": [TASK]}, {TASK: b'{"status": ["ok"]}'}),
    "record-status-number": ({"tasks": [TASK]}, {TASK: b'{"status": 3}'}),
    "record-empty": ({"tasks": [TASK]}, {TASK: b""}),
    "task-id-odd": ({"tasks": ["x", ""]}, {"x": b'{"status": "ok"}'}),
}


@pytest.mark.parametrize("case", list(STATUS_CASES))
def test_status_of_a_damaged_run_folder(case, tmp_path, capsys):
    plan, records = STATUS_CASES[case]
    run = _run_folder(tmp_path, plan, records)
    _check(["status", str(run)], capsys)


def test_the_grid_covers_every_table_reading_command():
    assert set(COMMANDS) | {"status"} >= {
        "edf", "bootstrap", "fit", "report", "compare", "refine", "time", "runtime", "train",
        "status",
    }  # fmt: skip
    assert len(list(_cases())) >= 500
