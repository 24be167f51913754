"""Experiment files: the shipped ones load; a bad one is refused naming file, key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dsd.cli import main
from dsd.errors import DsdError
from dsd.sweep.experiment import load_experiment, parse_count

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
GOOD = {
    "name": "t",
    "spaces": ["AnyNetXA"],
    "n": 2,
    "dataset": "digits",
    "epochs": 1,
}


def _write(tmp_path, doc) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("name", ["digits_anynetx", "cifar10_anynetx", "imagenet_anynetx_400mf"])
def test_shipped_experiments_load(name):
    exp = load_experiment(EXPERIMENTS / f"{name}.yaml")
    assert exp.name == name and len(exp.spaces) >= 3 and exp.n >= 1


def test_the_paper_setup_is_500_models_per_space_in_360_400mf_for_10_epochs():
    exp = load_experiment(EXPERIMENTS / "imagenet_anynetx_400mf.yaml")
    assert exp.n == 500 and exp.flops == (360e6, 400e6) and exp.epochs == 10
    assert exp.recipe["lr"] == 0.05 and exp.recipe["weight_decay"] == 5e-5
    assert exp.recipe["batch_size"] == 128 and exp.executor.kind == "slurm"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": 1}, r"exp.yaml: unknown key 'colour' \(allowed: name, spaces, n,"),
        ({"n": "ten"}, r"exp.yaml: n: expected an integer >= 1, got 'ten'"),
        ({"n": None}, r"exp.yaml: n: expected an integer >= 1"),
        ({"spaces": "AnyNetXA"}, r"exp.yaml: spaces: expected a non-empty list of names"),
        ({"flops": [400, 300]}, r"exp.yaml: flops: expected 0 <= low < high"),
        ({"flops": ["lots", "more"]}, r"exp.yaml: flops: expected a number such as 360M"),
        (
            {"recipe": {"lrr": 0.1}},
            r"exp.yaml: recipe: unknown key 'lrr' \(allowed: batch_size, lr,",
        ),
        ({"recipe": {"epochs": 3}}, r"exp.yaml: recipe: unknown key 'epochs'"),
        (
            {"recipe": {"batch_size": 1.5}},
            r"exp.yaml: recipe.batch_size: expected int or null, got float",
        ),
        ({"recipe": {"nesterov": "yes"}}, r"exp.yaml: recipe.nesterov: expected bool, got str"),
        ({"executor": {"kind": "k8s"}}, r"exp.yaml: executor: unknown executor 'k8s' \(use one of"),
        (
            {"executor": {"slot": 2}},
            r"exp.yaml: executor: unknown key 'slot' \(allowed: kind, slots",
        ),
        ({"executor": {"slots": "2"}}, r"exp.yaml: executor.slots: expected int or null, got str"),
        ({"seeds": [0, 0]}, r"exp.yaml: seeds: expected a non-empty list of distinct integers"),
        ({"network": {"stem": 3}}, r"exp.yaml: network.stem: expected str, got int"),
    ],
)
def test_bad_values_are_refused_naming_file_key_and_allowed(tmp_path, change, message):
    with pytest.raises(DsdError, match=message):
        load_experiment(_write(tmp_path, {**GOOD, **change}))


@pytest.mark.parametrize("missing", ["name", "spaces", "n", "dataset", "epochs"])
def test_missing_fields_are_named(tmp_path, missing):
    doc = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(DsdError, match=f"exp.yaml: missing required key '{missing}' \\(required:"):
        load_experiment(_write(tmp_path, doc))


def test_yaml_quirks_are_accepted():
    assert parse_count("360M", "x") == 360e6 and parse_count("4e8", "x") == 4e8
    assert parse_count("0.4G", "x") == 4e8 and parse_count(5, "x") == 5.0


def test_recipe_numbers_written_as_5e_5_are_floats(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(
        "name: t\nspaces: [AnyNetXA]\nn: 1\ndataset: digits\nepochs: 1\n"
        "recipe: {weight_decay: 5e-5}\n"
    )
    assert load_experiment(path).recipe["weight_decay"] == 5e-5


def test_cli_reports_a_bad_experiment_in_one_line(tmp_path, capsys):
    path = _write(tmp_path, {**GOOD, "colour": 1})
    assert main(["run", str(path), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown key 'colour'" in err
    assert not (tmp_path / "run").exists()  # nothing started


def test_cli_models_per_gpu_outside_the_local_executor_is_one_line(tmp_path, capsys):
    path = _write(tmp_path, GOOD)
    argv = ["run", str(path), "-o", str(tmp_path / "run"), "--executor", "slurm"]
    assert main([*argv, "--models-per-gpu", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "models_per_gpu is for the local executor" in err
    assert not (tmp_path / "run").exists()


def test_cli_reports_a_missing_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml"), "-o", str(tmp_path / "run")]) == 2
    assert "no such experiment file" in capsys.readouterr().err


def test_cli_needs_a_data_path_for_cifar10_and_writes_nothing(tmp_path, capsys):
    run_dir = tmp_path / "c10"
    assert main(["run", str(EXPERIMENTS / "cifar10_anynetx.yaml"), "-o", str(run_dir)]) == 2
    assert "cifar10_anynetx.yaml: dataset cifar10 needs a data path" in capsys.readouterr().err
    assert not run_dir.exists()


def test_a_builtin_experiment_is_found_by_name_from_anywhere(tmp_path, monkeypatch):
    from dsd.sweep.experiment import builtin_experiments, resolve_experiment

    monkeypatch.chdir(tmp_path)
    assert "digits_anynetx" in builtin_experiments()
    assert load_experiment("digits_anynetx").name == load_experiment("digits_anynetx.yaml").name
    assert resolve_experiment("digits_anynetx").is_file()
    (tmp_path / "digits_anynetx.yaml").write_text("not: [an experiment")  # a local file wins
    assert resolve_experiment("digits_anynetx.yaml").resolve() == tmp_path / "digits_anynetx.yaml"
