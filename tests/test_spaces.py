"""Design spaces: the paper's Table 1 sizes, the sampler's guarantees, strict validation."""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pandas as pd
import pytest
import yaml

import dsd
from dsd.errors import DsdError, SpaceError
from dsd.nets import AnyNet, complexity, regnet
from dsd.spaces import Constraints, load_space, write_space

# --- Table 1 --------------------------------------------------------------------------------------


def test_anynet_sizes_are_exact_closed_forms():
    per_stage = 16 * 128 * 3 * 6
    assert load_space("AnyNetXA").size == per_stage**4
    assert load_space("AnyNetXB").size == (16 * 128 * 6) ** 4 * 3
    assert load_space("AnyNetXC").size == (16 * 128) ** 4 * 3 * 6
    # Non-decreasing widths: multisets of 4 of the 128 widths, C(131, 4), not 128^4 / 4!.
    assert load_space("AnyNetXD").size == 16**4 * math.comb(131, 4) * 3 * 6
    assert load_space("AnyNetXE").size == math.comb(19, 4) * math.comb(131, 4) * 3 * 6


@pytest.mark.parametrize(
    ("name", "paper", "rel"),
    [
        ("AnyNetXA", 1.8e18, 0.03),
        ("AnyNetXB", 6.8e16, 0.01),
        ("AnyNetXC", 3.2e14, 0.02),
        ("AnyNetXD", 1.3e13, 0.07),
    ],
)
def test_sizes_agree_with_the_papers_table_1(name, paper, rel):
    space = load_space(name)
    assert space.paper_size == paper
    assert space.size == pytest.approx(paper, rel=rel)


def test_xe_exceeds_the_papers_divided_by_factorial_estimate():
    # The paper's 5.5e11 divides by 4! twice; counting multisets gives more, because ties count once.
    assert load_space("AnyNetXE").size == pytest.approx(8.174e11, rel=1e-3)
    assert (16**4 / 24) * (128**4 / 24) * 18 == pytest.approx(5.5e11, rel=0.01)


def test_degrees_of_freedom_follow_table_1():
    dof = {s.name: s.degrees_of_freedom for s in dsd.list_spaces()}
    assert (dof["AnyNetXA"], dof["AnyNetXB"], dof["AnyNetXC"]) == (16, 13, 10)
    assert dof["RegNet"] == 6


def test_each_refinement_extends_its_parent_with_one_constraint():
    spaces = {s.name: s for s in dsd.list_spaces()}
    assert (
        spaces["AnyNetXB"].parent == "AnyNetXA"
        and spaces["AnyNetXB"].added == "shared bottleneck_ratio"
    )
    assert spaces["AnyNetXC"].added == "shared group_width"
    assert spaces["AnyNetXD"].added == "non-decreasing width"
    assert spaces["AnyNetXE"].added == "non-decreasing depth"
    assert spaces["RegNetY"].network["se_ratio"] == 0.25 and spaces["RegNetY"].parent == "RegNetX"


# --- the sampler ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["AnyNetXA", "AnyNetXB", "AnyNetXC", "AnyNetXD", "AnyNetXE", "RegNetX", "RegNetY"]
)
def test_every_sampled_model_is_in_range_distinct_and_obeys_the_constraints(name):
    space = load_space(name)
    df = space.sample(200, flops=(360e6, 400e6), seed=3)
    # Distinct designs (schema 3): two RegNet settings may build one network (one model_id).
    assert len(df) == 200 and df.design_id.is_unique
    assert df.flops.between(360e6, 400e6).all()
    for row in df.itertuples():
        net = AnyNet.from_dict(row._asdict())
        assert net.model_id == row.model_id
        assert complexity(net) == {"flops": row.flops, "params": row.params, "acts": row.acts}
        d, w, g, b = (
            np.array(row.depths),
            np.array(row.widths),
            np.array(row.group_widths),
            np.array(row.bottleneck_ratios),
        )
        assert len(d) == 4 and np.all((d >= 1) & (w % 8 == 0 if space.kind == "regnet" else w >= 1))
        if "bottleneck_ratio" in space.constraints.shared or space.kind == "regnet":
            assert len(set(b)) == 1
        if "group_width" in space.constraints.shared or space.kind == "regnet":
            # The drawn design: one g for all stages, from the domain (the rule's caps are in built_*).
            assert len(set(g)) == 1 and g[0] == row.group_width
            assert set(g) <= {1, 2, 4, 8, 16, 32}
        assert list(net.built_widths) == list(row.built_widths)
        assert list(net.built_group_widths) == list(row.built_group_widths)
        if "width" in space.constraints.non_decreasing:
            assert np.all(np.diff(w) >= 0)
        if "depth" in space.constraints.non_decreasing:
            assert np.all(np.diff(d) >= 0)
        if space.kind == "anynet":
            assert np.all(d <= 16) and set(b) <= {1.0, 2.0, 4.0}


def test_regnet_rows_regenerate_from_their_parameters():
    df = load_space("RegNetX").sample(100, flops=(360e6, 400e6), seed=0)
    for row in df.itertuples():
        assert 12 <= row.depth <= 28 and 2.0 <= row.wm <= 3.0 and row.w0 % 8 == 0
        assert round(row.wa * 10) == pytest.approx(row.wa * 10) and round(
            row.wm * 1000
        ) == pytest.approx(row.wm * 1000)
        net = regnet(
            row.depth,
            row.w0,
            row.wa,
            row.wm,
            group_width=row.group_width,
            bottleneck_ratio=row.bottleneck_ratio,
        )
        assert net == AnyNet.from_dict(row._asdict())
        assert sum(row.depths) == row.depth


def test_same_seed_same_rows_in_same_order_and_other_seed_differs():
    space = load_space("AnyNetXC")
    a = space.sample(50, flops=(360e6, 400e6), seed=11)
    b = space.sample(50, flops=(360e6, 400e6), seed=11)
    c = space.sample(50, flops=(360e6, 400e6), seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.model_id) != list(c.model_id)


def test_params_and_acts_ranges_and_network_overrides():
    df = load_space("AnyNetXA").sample(
        30, params=(1e5, 2e5), acts=(1e5, 1e6), resolution=32, num_classes=10, stem="res_stem_cifar"
    )
    assert df.params.between(1e5, 2e5).all() and df.acts.between(1e5, 1e6).all()
    assert (
        set(df.resolution) == {32}
        and set(df.num_classes) == {10}
        and set(df.stem) == {"res_stem_cifar"}
    )


def test_log_uniform_depth_matches_its_closed_form_distribution():
    # log f ~ U(log 0.5, log 16), d = ceil(f): P(d = k) = log(k / (k - 1)) / log 32 (k = 1: log 2 / log 32).
    p = load_space("AnyNetXA").parameters["depth"]
    draws = p.draw(np.random.default_rng(0), 400_000)
    freq = np.bincount(draws.astype(int), minlength=17)[1:] / len(draws)
    expected = np.array([math.log(2)] + [math.log(k / (k - 1)) for k in range(2, 17)]) / math.log(
        32
    )
    assert np.allclose(freq, expected, atol=0.003)


def test_an_unreachable_regime_stops_with_a_message_not_a_hang():
    with pytest.raises(DsdError, match=r"found only 0 of 10 distinct models with flops 1..2 after"):
        load_space("AnyNetXA").sample(10, flops=(1, 2), max_draws=200_000)


def test_too_many_for_a_tiny_space_reports_what_was_reached(tmp_path):
    f = tmp_path / "tiny.yaml"
    f.write_text(
        "extends: AnyNetXA\nstages: 1\nstrides: 2\nparams:\n  depth: {values: [1]}\n  width: {values: [8, 16]}\n"
        "  bottleneck_ratio: {values: [1]}\n  group_width: {values: [8]}\n"
    )
    space = load_space(f)
    assert space.size == 2
    with pytest.raises(DsdError, match="found only 2 of 3"):
        space.sample(3, max_draws=100_000)


# --- user files and validation --------------------------------------------------------------------


def write(tmp_path, text, name="my.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_a_user_space_extends_a_builtin_and_overrides_network_fields(tmp_path):
    p = write(
        tmp_path,
        "extends: AnyNetXC\nnetwork: {resolution: 32, num_classes: 10, stem: res_stem_cifar}\n"
        "params:\n  width: {low: 8, high: 128, q: 8, dist: log_uniform}\n",
    )
    space = load_space(p)
    assert (
        space.name == "my"
        and space.parent == "AnyNetXC"
        and space.constraints.shared == ("bottleneck_ratio", "group_width")
    )
    assert space.network["resolution"] == 32 and space.size == (16 * 16) ** 4 * 18
    child = write(
        tmp_path, "extends: my.yaml\nconstraints: {non_decreasing: [width]}\n", "child.yaml"
    )
    assert load_space(child).constraints.non_decreasing == ("width",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("- a\n- b\n", "expected a mapping at the top level"),
        (
            "extends: AnyNetXA\nconstriants: {}\n",
            "unknown key 'constriants' (allowed: name, extends",
        ),
        (
            "extends: AnyNetXA\nparams: {width: {low: 64, high: 8}}\n",
            "params.width: reversed range low=64 > high=8",
        ),
        (
            "extends: AnyNetXA\nparams: {group_width: {values: []}}\n",
            "params.group_width.values: empty domain",
        ),
        (
            "extends: AnyNetXA\nparams: {width: {low: a, high: 8}}\n",
            "params.width.low: expected a number",
        ),
        (
            "extends: AnyNetXA\nparams: {width: {low: 8, high: 64, dist: normal}}\n",
            "unknown distribution 'normal'",
        ),
        ("extends: AnyNetXA\nparams: {widht: {low: 8, high: 64}}\n", "unknown parameter 'widht'"),
        ("extends: AnyNetXA\nnetwork: {stem: big}\n", "network.stem: 'big' is not a stem"),
        (
            "extends: AnyNetXA\nnetwork: {resolution: '224'}\n",
            "network.resolution: expected an integer",
        ),
        (
            "extends: AnyNetXA\nconstraints: {shared: [colour]}\n",
            "constraints.shared: 'colour' not allowed",
        ),
        ("extends: NoSuchSpace\n", "no space named 'NoSuchSpace'"),
        ("extends: AnyNetXA\nparams: {width: [8\n", "malformed YAML at line"),
        ("extends: AnyNetXA\nstages: two\n", "stages: expected a positive integer"),
    ],
)
def test_malformed_space_files_name_file_key_and_what_is_allowed(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(SpaceError) as e:
        load_space(p)
    assert message in str(e.value) and str(p) in str(e.value)


def test_extends_cycle_is_detected(tmp_path):
    write(tmp_path, "extends: b.yaml\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\n", "b.yaml")
    with pytest.raises(SpaceError, match=r"cycle \(a.yaml -> b.yaml -> a.yaml\)"):
        load_space(tmp_path / "a.yaml")


def test_bad_sample_arguments():
    space = load_space("AnyNetXA")
    for n in (0, -1, 2.5, "10", 1_000_001, 10**12):  # refused at once, before any draw
        with pytest.raises(DsdError, match="n must be an integer from 1 to 1,000,000"):
            space.sample(n)
    with pytest.raises(DsdError, match="reversed"):
        space.sample(5, flops=(4e8, 3e8))
    with pytest.raises(DsdError, match="unknown network field"):
        space.sample(5, colour=3)


def test_a_wheel_ships_every_subpackage_and_the_builtin_spaces():
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    repo = Path(__file__).resolve().parents[1]
    cfg = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(p.parent.relative_to(repo).parts) for p in (repo / "dsd").rglob("__init__.py")
    }
    assert on_disk | {"dsd._spaces", "dsd._experiments"} == set(cfg["packages"])
    # the plain layout (setuptools then installs editable with a .pth line and no warning block);
    # the built-in folders reach the package as links to the top-level ones
    assert cfg["package-dir"] == {"": "."}
    for pkg, folder in (("dsd._spaces", "spaces"), ("dsd._experiments", "experiments")):
        link = repo / "dsd" / pkg.split(".")[1]
        assert link.is_symlink() and link.resolve() == repo / folder
        assert cfg["package-data"][pkg] == ["*.yaml"]
    assert {s.name for s in dsd.list_spaces()} == {p.stem for p in (repo / "spaces").glob("*.yaml")}


# --- every size bounded, names plain, files strict (issue 18.3, 18.4) -----------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("extends: AnyNetXA\nstages: 100000\n", "stages: expected a positive integer up to 16"),
        ("extends: AnyNetXA\nstrides: 1000\n", "strides: expected a positive integer"),
        (
            "extends: AnyNetXA\nparams: {width: {low: 8, high: 1.0e+300}}\n",
            "params.width.high: expected a number above 0, at most 65536",
        ),
        (
            "extends: AnyNetXA\nparams: {width: {low: 8, high: 1" + "0" * 40 + "}}\n",
            "params.width.high: expected a number above 0, at most 65536",
        ),
        (
            "extends: AnyNetXA\nparams: {width: {values: [8, 1.0e+300]}}\n",
            "params.width.values: 1e+300 is not a number from 0 to 65536",
        ),
        (
            "extends: AnyNetXA\nparams: {width: {low: 8, high: 60000, q: 0.001}}\n",
            "more than 100,000 values",
        ),
        (
            "extends: AnyNetXA\nparams: {depth: {low: 1, high: 16, q: 1.0e-300}}\n",
            "more than 100,000 values",
        ),
        (
            "extends: AnyNetXA\nparams: {bottleneck_ratio: {values: [0.3]}}\n",
            "0.3 not allowed (b >= 1, or 1/b an integer)",
        ),
        (
            "extends: AnyNetXA\nnetwork: {num_classes: 1" + "0" * 30 + "}\n",
            "network.num_classes: must be from 1 to 1,000,000",
        ),
        ("extends: AnyNetXA\nnetwork: {resolution: 100000}\n", "must be from 1 to 8,192"),
        ("extends: AnyNetXA\nnetwork: {se_ratio: 3.5}\n", "network.se_ratio: must be from 0"),
        ("extends: RegNetX\nconstraints: {num_stages: [3, 100]}\n", "integers from 1 to 16"),
        ("extends: RegNetX\nstages: 3\n", "stages: a regnet space generates its stages"),
        ("extends: RegNetX\nstrides: [2, 2, 2, 2]\n", "strides: expected one positive integer"),
        (
            "extends: AnyNetXA\nconstraints: {ranges: {d: [null, 1.0e+300]}}\n",
            "constraints.ranges.d: expected [low, high] numbers",
        ),
        ("extends: AnyNetXA\npaper_size: 1e400\n", "paper_size: expected a finite number"),
        ('name: "two\\nlines"\nextends: AnyNetXA\n', "a space name is plain text"),
        ('name: "bell\\a"\nextends: AnyNetXA\n', "a space name is plain text"),
        ("name: a/b\nextends: AnyNetXA\n", "a space name is plain text"),
        ("name: " + "n" * 101 + "\nextends: AnyNetXA\n", "longer than 100 characters"),
        ("name: AnyNetXA\nextends: AnyNetXA\n", "'AnyNetXA' is a built-in space's name"),
        ("name: anynetxc\nextends: AnyNetXA\n", "'anynetxc' is a built-in space's name"),
        (
            "name: D\nextends: AnyNetXA\nconstraints: {shared: [width]}\nconstraints: {}\n",
            "duplicate key 'constraints' (first at line 3)",
        ),
        (
            "name: D\nextends: AnyNetXA\nparams:\n  width: {low: 8, high: 64, low: 16}\n",
            "duplicate key 'low' (first at line 4)",
        ),
    ],
)
def test_sizes_names_and_keys_are_bounded_with_one_line(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(SpaceError) as e:
        load_space(p)
    assert message in str(e.value) and str(p) in str(e.value) and "\n" not in str(e.value)


def test_network_fields_given_by_the_caller_are_bounded_too():
    space = load_space("AnyNetXA")
    for field, value, message in [
        ("num_classes", 10**30, "must be from 1 to 1,000,000"),
        ("resolution", 8193, "must be from 1 to 8,192"),
        ("stem_width", 0, "must be from 1"),
        ("stem", "nope", "'nope' is not a stem"),
    ]:
        with pytest.raises(DsdError, match=message):
            space.with_network(**{field: value})
        with pytest.raises(DsdError, match=message):
            space.sample(2, **{field: value})


def test_a_file_named_like_a_builtin_never_shadows_it(tmp_path):
    """``extends: AnyNetXA`` is the built-in space even beside a file AnyNetXA.yaml; the file
    is reached as a path, and a file without a name of its own may not take the built-in's."""
    write(tmp_path, "name: Other\nextends: AnyNetXA\nstages: 2\n", "AnyNetXA.yaml")
    child = write(tmp_path, "name: Child\nextends: AnyNetXA\n", "child.yaml")
    space = load_space(child)
    assert space.parent == "AnyNetXA" and space.stages == 4
    assert space.size == load_space("AnyNetXA").size
    by_path = write(tmp_path, "name: Child2\nextends: ./AnyNetXA.yaml\n", "child2.yaml")
    assert load_space(by_path).parent == "Other" and load_space(by_path).stages == 2
    assert load_space("anynetxa").source == load_space("AnyNetXA").source != str(tmp_path)
    unnamed = tmp_path / "sub"
    unnamed.mkdir()
    write(unnamed, "extends: AnyNetXA\n", "RegNetX.yaml")
    with pytest.raises(SpaceError, match="'RegNetX' is a built-in space's name"):
        load_space(unnamed / "RegNetX.yaml")


def test_unicode_space_files_read_and_write_back(tmp_path):
    p = write(
        tmp_path,
        "name: 'Größe: 🚀 v1'\nextends: AnyNetXC\ndescription: Breite wächst 📈\n"
        "constraints: {non_decreasing: [width]}\n",
        "unicode.yaml",
    )
    space = load_space(p)
    assert space.name == "Größe: 🚀 v1" and space.description == "Breite wächst 📈"
    assert "Größe: 🚀 v1 (anynet space, extends AnyNetXC)" in space.describe()
    copy = write_space(
        tmp_path / "copy.yaml",
        name="Kopie 🚀",
        extends=space,
        description=space.description,
        constraints=space.constraints,
    )
    assert copy.constraints == space.constraints and copy.parent == space.name
    assert yaml.safe_load((tmp_path / "copy.yaml").read_text(encoding="utf-8"))["extends"] == (
        "unicode.yaml"
    )


# --- write_space: a child space file, written with the YAML library --------------------------------


def test_write_space_round_trips_and_nothing_injects_a_key(tmp_path):
    """Names and notes with a newline, a ':' or an emoji: notes stay one comment line each,
    the name stays the name, and the file loads back to the parent with the constraints added."""
    added = Constraints(non_decreasing=("width",), ranges=(("d", None, 20.0), ("w1", 16.0, None)))
    notes = [
        "non-decreasing widths: improves\nconstraints: {shared: [depth]}",
        "d <= 20: no loss; D=0.31 🚀",
        "line\rbreaks\x85of\u2028every\u2029kind\x00and a lone surrogate \udc80",
    ]
    out = tmp_path / "child.yaml"
    space = write_space(
        out,
        name="Child: v2 ✨",
        extends="AnyNetXC",
        description="AnyNetXC + non-decreasing widths\n+ d <= 20",
        constraints=added,
        notes=notes,
    )
    text = out.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert [ln.startswith("# ") for ln in lines[: len(notes)]] == [True] * len(notes)
    assert not lines[len(notes)].startswith("#")
    data = yaml.safe_load(text)
    assert list(data) == ["name", "extends", "description", "constraints"]
    assert data["constraints"] == {
        "non_decreasing": ["width"],
        "ranges": {"d": [None, 20], "w1": [16, None]},
    }
    back = load_space(out)
    parent = load_space("AnyNetXC")
    assert back.name == "Child: v2 ✨" and back.parent == "AnyNetXC"
    assert back.constraints == parent.constraints.merge(added)
    assert back.parameters == parent.parameters and back.network == parent.network
    assert back.description == "AnyNetXC + non-decreasing widths + d <= 20"
    assert dataclasses.replace(back, source=space.source) == space
    assert back.size < parent.size and back.constraints.shared == (
        "bottleneck_ratio",
        "group_width",
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "two\nlines"}, "a space name is plain text"),
        ({"name": "AnyNetXA"}, "is a built-in space's name"),
        ({"constraints": {"ranges": {"w0": [8, None]}}}, "unknown quantity 'w0'"),
        ({"constraints": {"shared": ["width"], "non_decreasing": ["width"]}}, "is both"),
        ({"extends": "NoSuchSpace"}, "no space named 'NoSuchSpace'"),
    ],
)
def test_write_space_refuses_and_leaves_the_file_as_it_was(tmp_path, kwargs, message):
    out = tmp_path / "child.yaml"
    out.write_text("# an earlier file\n")
    args = {"name": "Child", "extends": "AnyNetXA", "constraints": {"shared": ["depth"]}, **kwargs}
    with pytest.raises(SpaceError, match=message):
        write_space(out, **args)
    assert out.read_text() == "# an earlier file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["child.yaml"]


def test_dsd_show_leads_with_the_close_matches(capsys):
    from dsd.cli import main

    assert main(["show", "ResNet50"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        "dsd show: error: 'ResNet50' is neither a model of the zoo nor a space: did you mean ResNet-50"
    )
    assert main(["sample", "--space", "AnyNetXF", "--n", "2", "-o", "x.parquet"]) == 2
    assert (
        "no space named 'AnyNetXF' and no such file: did you mean AnyNetXE"
        in capsys.readouterr().err
    )


def test_a_space_path_that_is_not_a_file_is_named(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # reading it would block: refused before any read
    for path in (tmp_path, fifo):
        with pytest.raises(SpaceError, match=f"{path}: not a regular file"):
            load_space(path)
