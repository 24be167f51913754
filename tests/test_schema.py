"""One schema: the version, the columns and what each layer requires live in dsd.schema alone."""

from __future__ import annotations

import re
from pathlib import Path

import dsd
from dsd.schema import RESULT_COLUMNS, SCHEMA_VERSION, STATUSES
from dsd.sweep import RunFolder, Task, TorchTrainer
from dsd.sweep.task import failed_record
from dsd.trainer import TrainConfig

ROOT = Path(dsd.__file__).parent


def test_a_failed_record_has_every_result_column_and_its_recipe():
    row = {"model_id": "abc", "space": "AnyNetXA", "depths": [1], "widths": [8]}
    config = TrainConfig(dataset="digits", epochs=3)
    rec = failed_record(Task("t", row, TorchTrainer(config), RunFolder("run")), "boom")
    assert set(RESULT_COLUMNS) <= set(rec)
    assert rec["status"] == "failed" and rec["reason"] == "boom" and rec["status"] in STATUSES
    assert rec["dataset"] == "digits" and rec["epochs"] == 3 and rec["lr"] == config.recipe()["lr"]
    assert rec["top1_err"] != rec["top1_err"] and rec["test_err"] == []  # NaN, empty curve


def test_the_schema_version_and_columns_are_written_once():
    sources = {p: p.read_text(encoding="utf-8") for p in ROOT.rglob("*.py")}
    defs = [p.name for p, s in sources.items() if re.search(r"^SCHEMA_VERSION\s*=", s, re.M)]
    assert defs == ["schema.py"] and SCHEMA_VERSION == 3
    literal = [
        p.name for p, s in sources.items() if re.search(r"[\"']schema_version[\"']\s*:\s*\d", s)
    ]
    assert literal == []
    for name in ("RESULT_COLUMNS", "STATUSES", "BEST_COLUMNS", "SAMPLE_REQUIRED"):
        owners = [p.name for p, s in sources.items() if re.search(rf"^{name}\s*=", s, re.M)]
        assert owners == ["schema.py"], (name, owners)
