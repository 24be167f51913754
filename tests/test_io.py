"""dsd.io's guards on a command's inputs and outputs (one file given twice, an output over an input)."""

from __future__ import annotations

import os

import pytest

from dsd.errors import DsdError
from dsd.io import check_not_an_input, distinct_inputs


def test_one_file_given_twice_by_any_name_is_refused(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("x\n1\n")
    hard, soft = tmp_path / "hard.csv", tmp_path / "soft.csv"
    os.link(a, hard)
    soft.symlink_to(a)
    other = tmp_path / "other.csv"
    other.write_text("x\n1\n")  # same content, another file: allowed
    assert distinct_inputs([a, other]) == [a, other]
    for twin in (a, hard, soft):
        with pytest.raises(DsdError, match="give each input once"):
            distinct_inputs([a, twin])


def test_no_output_over_an_input(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("x\n1\n")
    hard, soft = tmp_path / "hard.csv", tmp_path / "soft.csv"
    os.link(a, hard)
    soft.symlink_to(a)
    for out in (a, hard, soft, tmp_path / "." / "a.csv"):
        with pytest.raises(DsdError, match="is an input of this command"):
            check_not_an_input(out, [tmp_path / "b.csv", a])
    assert check_not_an_input(tmp_path / "new.csv", [a]) == tmp_path / "new.csv"
