"""One parser for counts and ranges: every flag and experiment field reads 360M, 360m, 0.4G, 1T alike."""

from __future__ import annotations

import doctest
import math

import pytest

import dsd.validate
from dsd.errors import DsdError
from dsd.validate import parse_count, parse_range


@pytest.mark.parametrize(
    "text, value",
    [
        ("360M", 360e6),
        ("360m", 360e6),
        ("0.4G", 4e8),
        ("1T", 1e12),
        ("1.5k", 1500.0),
        ("4e8", 4e8),
        (" 12 ", 12.0),
    ],
)
def test_counts(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("bad", ["", "M", "1X", "nan", "inf", "1e999", True, None, "1..2"])
def test_bad_counts_are_one_line_errors(bad):
    with pytest.raises(DsdError, match="expected a number"):
        parse_count(bad, "flops")


def test_ranges():
    assert parse_range("360M:400M") == (360e6, 400e6)
    assert parse_range("360m:") == (360e6, math.inf)
    assert parse_range(":1T") == (0.0, 1e12)
    for bad, msg in (("400M:360M", "reversed"), ("360M", "not a range"), ("-1:2", "negative")):
        with pytest.raises(DsdError, match=msg):
            parse_range(bad)


def test_every_command_uses_the_one_parser(tmp_path):
    from dsd.cli import build_parser
    from dsd.sweep.experiment import parse_experiment

    args = build_parser().parse_args(
        ["sample", "--space", "AnyNetXA", "--n", "2", "--flops", "360m:", "-o", "x.parquet"]
    )
    assert args.flops == (360e6, math.inf)
    exp = parse_experiment(
        {
            "name": "e",
            "spaces": ["AnyNetXA"],
            "n": 2,
            "dataset": "digits",
            "epochs": 1,
            "flops": ["1m", "0.004G"],
        }
    )
    assert exp.flops == (1e6, 4e6)
    from dsd.cli.analysis_cmd import _range

    assert _range("1T:2T") == (1e12, 2e12)


def test_doctests():
    assert doctest.testmod(dsd.validate).failed == 0
