"""Every command, fed bad input: exit code 2, exactly one line on stderr naming the problem, no file
created or changed in the working directory (earlier outputs intact).

The cases run in-process through :func:`dsd.cli.main` in one shared workspace of prepared inputs;
each case snapshots the workspace (names, sizes, contents) before and after.
"""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import pytest
import yaml
from analysis_fixtures import synthetic_results

from dsd.cli import main
from dsd.io import YAML_MAX_BYTES, YAML_MAX_DEPTH, write_table

LONG = "x" * 300  # longer than any file name may be (255 bytes)
BIG_SEED = "1" * 24

EXPERIMENT = {
    "name": "tiny",
    "spaces": ["AnyNetXA"],
    "n": 2,
    "flops": ["0.5M", "2M"],
    "resolution": 16,
    "num_classes": 10,
    "dataset": "digits",
    "epochs": 1,
    "recipe": {"batch_size": 32, "lr": 0.1, "num_workers": 0},
    "seeds": [0],
    "executor": {"kind": "local", "slots": 1, "threads_per_slot": 1},
}

# experiment file name -> changes to EXPERIMENT (None deletes the key)
EXPERIMENTS = {
    "exp_inf_lr": {"recipe": {"lr": ".inf"}},
    "exp_nan_wd": {"recipe": {"weight_decay": ".nan"}},
    "exp_inf_mixup": {"recipe": {"mixup_alpha": ".inf"}},
    "exp_heartbeat0": {"executor": {"kind": "local", "heartbeat_s": 0}},
    "exp_time_nan": {"executor": {"kind": "local", "time_min": ".nan"}},
    "exp_dup_case": {"spaces": ["AnyNetXA", "anynetxa"]},
    "exp_dup_path": {"spaces": ["AnyNetXA", "PATH_TO_XA"]},
    "exp_neg_seed": {"seeds": [-1]},
    "exp_big_seed": {"seeds": [int(BIG_SEED)]},
    "exp_neg_sample_seed": {"sample_seed": -5},
    "exp_bad_space": {"spaces": ["NoSuchSpace"]},
    "exp_unknown_key": {"colour": "blue"},
    "exp_missing_n": {"n": None},
    "exp_zero_n": {"n": 0},
    "exp_flops_inf": {"flops": [0, ".inf"]},
    "exp_flops_reversed": {"flops": ["2M", "1M"]},
    "exp_se_nan": {"network": {"se_ratio": ".nan"}},
    "exp_bad_stem": {"network": {"stem": "nope"}},
    "exp_zero_epochs": {"epochs": 0},
    "exp_bad_dataset": {"dataset": "mnist"},
    "exp_empty_regime": {"flops": ["1", "2"]},
}


def _dump(value) -> str:
    """YAML text for an experiment dict; '.inf' / '.nan' strings become YAML's special floats."""
    return (
        yaml.safe_dump(value, sort_keys=False).replace("'.inf'", ".inf").replace("'.nan'", ".nan")
    )


def _nested(depth: int) -> str:
    return "network: " + "[" * depth + "]" * depth + "\n"


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """The workspace every case runs in."""
    root = tmp_path_factory.mktemp("bad_input")
    from dsd.spaces import load_space

    samples = load_space("AnyNetXA").sample(3, seed=0, resolution=16, num_classes=10)
    write_table(samples, root / "samples.parquet")
    huge = load_space("AnyNetXA").sample(1, seed=0, resolution=8000, num_classes=10)
    write_table(huge, root / "huge_res.parquet")  # its data set needs ~1.4 TB
    results = synthetic_results(20, failed=0).drop(columns="schema_version")  # no v1 notice
    write_table(results, root / "results.parquet")
    write_table(results.assign(top1_err=results["top1_err"] + 0.01), root / "results_copy.parquet")
    write_table(results.assign(lr=0.2), root / "results_other_lr.parquet")
    write_table(results.assign(space="XA\nnote: 0 rows"), root / "results_newline_space.parquet")
    write_table(results.assign(epochs=10, lr=0.05), root / "previous.parquet")
    (root / "corrupt.parquet").write_bytes(b"PAR1 this is not parquet")
    (root / "empty.csv").write_bytes(b"")
    (root / "wrong.csv").write_text("a,b\n1,2\n")
    (root / "afile.txt").write_text("not a directory\n")
    (root / "adir.parquet").mkdir()
    # spaces
    sp = root / "spaces"
    sp.mkdir()
    (sp / "nonutf8.yaml").write_bytes(b"name: X\ndescription: caf\xe9\n")
    (sp / "extends_nonutf8.yaml").write_text("name: Y\nextends: nonutf8.yaml\n")
    (sp / "deep.yaml").write_text("name: Deep\n" + _nested(YAML_MAX_DEPTH * 50))
    (sp / "bomb.yaml").write_text(BOMB)
    (sp / "big.yaml").write_text("# " + "x" * YAML_MAX_BYTES + "\nname: Big\n")
    (sp / "se_nan.yaml").write_text("name: SeNan\nextends: AnyNetXA\nnetwork: {se_ratio: .nan}\n")
    (sp / "se_inf.yaml").write_text("name: SeInf\nextends: AnyNetXA\nnetwork: {se_ratio: .inf}\n")
    (sp / "tabs.yaml").write_text("name: T\n\tnetwork: {}\n")
    # experiments
    ex = root / "exp"
    ex.mkdir()
    (ex / "ok.yaml").write_text(_dump(EXPERIMENT))
    from dsd.spaces.loader import resolve

    for name, changes in EXPERIMENTS.items():
        doc = dict(EXPERIMENT)
        for k, v in changes.items():
            if v is None:
                doc.pop(k)
            elif k == "spaces":
                doc[k] = [str(resolve("AnyNetXA")) if s == "PATH_TO_XA" else s for s in v]
            else:
                doc[k] = {**doc[k], **v} if isinstance(doc.get(k), dict) else v
        (ex / f"{name}.yaml").write_text(_dump(doc))
    (ex / "nonutf8.yaml").write_bytes(_dump(EXPERIMENT).encode() + b"description: \xff\xfe\n")
    (ex / "bomb.yaml").write_text(BOMB)
    (ex / "deep.yaml").write_text(_nested(5000))
    (ex / "space_nonutf8.yaml").write_text(
        _dump({**EXPERIMENT, "spaces": [str(sp / "extends_nonutf8.yaml")]})
    )
    # a run folder with a damaged plan
    run = root / "damaged_run"
    (run / "records").mkdir(parents=True)
    (run / "plan.json").write_text('{"tasks": 5')
    run2 = root / "plan_not_object"
    run2.mkdir()
    (run2 / "plan.json").write_text("[1, 2]")
    return root


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a hash of its content."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in filenames:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha1(fh.read()).hexdigest()
    return out


S, E, SP = "samples.parquet", "exp", "spaces"
R = "results.parquet"
CASES = [
    # dsd show
    ("show-unknown", ["show", "NoSuchModel"]),
    ("show-nonutf8-space", ["show", f"{SP}/nonutf8.yaml"]),
    ("show-nonutf8-via-extends", ["show", f"{SP}/extends_nonutf8.yaml"]),
    ("show-deep-yaml", ["show", f"{SP}/deep.yaml"]),
    ("show-alias-bomb", ["show", f"{SP}/bomb.yaml"]),
    ("show-huge-yaml", ["show", f"{SP}/big.yaml"]),
    ("show-se-nan", ["show", f"{SP}/se_nan.yaml"]),
    ("show-se-inf", ["show", f"{SP}/se_inf.yaml"]),
    ("show-tab-yaml", ["show", f"{SP}/tabs.yaml"]),
    ("show-long-name", ["show", LONG]),
    ("show-long-path", ["show", f"{LONG}.yaml"]),
    ("show-negative-resolution", ["show", "RegNetX-400MF", "--resolution", "-1"]),
    ("show-huge-resolution", ["show", "RegNetX-400MF", "--resolution", BIG_SEED]),
    ("show-nan-classes", ["show", "RegNetX-400MF", "--classes", "nan"]),
    ("show-directory", ["show", SP]),
    # dsd sample
    ("sample-n-0", ["sample", "--space", "AnyNetXA", "--n", "0", "-o", "s1.parquet"]),
    ("sample-n-negative", ["sample", "--space", "AnyNetXA", "--n", "-1", "-o", "s1.parquet"]),
    ("sample-n-float", ["sample", "--space", "AnyNetXA", "--n", "1e9", "-o", "s1.parquet"]),
    ("sample-n-huge", ["sample", "--space", "AnyNetXA", "--n", str(10**12), "-o", "s1.parquet"]),
    (
        "sample-seed-negative",
        ["sample", "--space", "AnyNetXA", "--n", "2", "--seed", "-1", "-o", "s1.parquet"],
    ),
    (
        "sample-seed-24-digits",
        ["sample", "--space", "AnyNetXA", "--n", "2", "--seed", BIG_SEED, "-o", "s1.parquet"],
    ),
    (
        "sample-flops-reversed",
        ["sample", "--space", "AnyNetXA", "--n", "2", "--flops", "5M:1M", "-o", "s1.parquet"],
    ),
    (
        "sample-flops-nan",
        ["sample", "--space", "AnyNetXA", "--n", "2", "--flops", "nan:inf", "-o", "s1.parquet"],
    ),
    ("sample-bad-extension", ["sample", "--space", "AnyNetXA", "--n", "2", "-o", "s1.txt"]),
    ("sample-missing-dir", ["sample", "--space", "AnyNetXA", "--n", "2", "-o", "nodir/s1.parquet"]),
    ("sample-under-proc", ["sample", "--space", "AnyNetXA", "--n", "2", "-o", "/proc/s1.parquet"]),
    ("sample-empty-output", ["sample", "--space", "AnyNetXA", "--n", "2", "-o", ""]),
    ("sample-onto-directory", ["sample", "--space", "AnyNetXA", "--n", "2", "-o", "adir.parquet"]),
    ("sample-long-output", ["sample", "--space", "AnyNetXA", "--n", "2", "-o", f"{LONG}.parquet"]),
    (
        "sample-nonutf8-output",
        ["sample", "--space", "AnyNetXA", "--n", "2", "-o", "nodir\udcff/s.parquet"],
    ),
    (
        "sample-nonutf8-space",
        ["sample", "--space", f"{SP}/nonutf8.yaml", "--n", "2", "-o", "s1.parquet"],
    ),
    ("sample-bomb-space", ["sample", "--space", f"{SP}/bomb.yaml", "--n", "2", "-o", "s1.parquet"]),
    (
        "sample-resolution-0",
        ["sample", "--space", "AnyNetXA", "--n", "2", "--resolution", "0", "-o", "s1.parquet"],
    ),
    (
        "sample-classes-0",
        ["sample", "--space", "AnyNetXA", "--n", "2", "--classes", "0", "-o", "s1.parquet"],
    ),
    ("sample-unknown-space", ["sample", "--space", "AnyNetXZ", "--n", "2", "-o", "s1.parquet"]),
    # dsd train
    ("train-missing-samples", ["train", "missing.parquet", "-o", "r1.parquet"]),
    ("train-bad-extension", ["train", S, "-o", "r1.txt"]),
    ("train-epochs-0", ["train", S, "--epochs", "0", "-o", "r1.parquet"]),
    ("train-lr-inf", ["train", S, "--lr", "inf", "-o", "r1.parquet"]),
    ("train-lr-nan", ["train", S, "--lr", "nan", "-o", "r1.parquet"]),
    ("train-lr-negative", ["train", S, "--lr", "-0.1", "-o", "r1.parquet"]),
    ("train-wd-inf", ["train", S, "--wd", "inf", "-o", "r1.parquet"]),
    ("train-mixup-inf", ["train", S, "--mixup", "inf", "-o", "r1.parquet"]),
    ("train-seed-negative", ["train", S, "--seed", "-1", "-o", "r1.parquet"]),
    ("train-seed-24-digits", ["train", S, "--seed", BIG_SEED, "-o", "r1.parquet"]),
    ("train-batch-1", ["train", S, "--batch-size", "1", "-o", "r1.parquet"]),
    ("train-batch-over-data", ["train", S, "--batch-size", "5000", "-o", "r1.parquet"]),
    ("train-out-of-memory", ["train", "huge_res.parquet", "-o", "r1.parquet"]),
    ("train-momentum-1.5", ["train", S, "--momentum", "1.5", "-o", "r1.parquet"]),
    ("train-ema-1", ["train", S, "--ema", "1", "-o", "r1.parquet"]),
    ("train-smoothing-1", ["train", S, "--label-smoothing", "1", "-o", "r1.parquet"]),
    (
        "train-warmup-past-end",
        ["train", S, "--epochs", "1", "--warmup-epochs", "5", "-o", "r1.parquet"],
    ),
    ("train-unknown-dataset", ["train", S, "--dataset", "mnist", "-o", "r1.parquet"]),
    ("train-cifar-no-data", ["train", S, "--dataset", "cifar10", "-o", "r1.parquet"]),
    (
        "train-cifar-missing-data",
        ["train", S, "--dataset", "cifar10", "--data", "/nonexistent", "-o", "r1.parquet"],
    ),
    ("train-unknown-device", ["train", S, "--device", "tpu", "-o", "r1.parquet"]),
    ("train-limit-negative", ["train", S, "--limit", "-1", "-o", "r1.parquet"]),
    ("train-corrupt-samples", ["train", "corrupt.parquet", "-o", "r1.parquet"]),
    ("train-empty-csv", ["train", "empty.csv", "-o", "r1.parquet"]),
    ("train-wrong-columns", ["train", "wrong.csv", "-o", "r1.parquet"]),
    ("train-other-recipe", ["train", S, "--epochs", "3", "-o", "previous.parquet"]),
    ("train-under-proc", ["train", S, "-o", "/proc/r1.parquet"]),
    ("train-long-output", ["train", S, "-o", f"{LONG}.parquet"]),
    ("train-samples-directory", ["train", "adir.parquet", "-o", "r1.parquet"]),
    # dsd run
    ("run-missing-experiment", ["run", f"{E}/missing.yaml", "-o", "run1"]),
    *[(f"run-{n}", ["run", f"{E}/{n}.yaml", "-o", "run1"]) for n in EXPERIMENTS],
    ("run-nonutf8-experiment", ["run", f"{E}/nonutf8.yaml", "-o", "run1"]),
    ("run-alias-bomb", ["run", f"{E}/bomb.yaml", "-o", "run1"]),
    ("run-deep-yaml", ["run", f"{E}/deep.yaml", "-o", "run1"]),
    ("run-nonutf8-space-via-extends", ["run", f"{E}/space_nonutf8.yaml", "-o", "run1"]),
    ("run-empty-out", ["run", f"{E}/ok.yaml", "-o", ""]),
    ("run-out-is-file", ["run", f"{E}/ok.yaml", "-o", "afile.txt"]),
    ("run-time-min-nan", ["run", f"{E}/ok.yaml", "-o", "run1", "--time-min", "nan"]),
    ("run-time-min-0", ["run", f"{E}/ok.yaml", "-o", "run1", "--time-min", "0"]),
    ("edf-newline-space", ["edf", "results_newline_space.parquet", "-o", "e.png"]),
    ("report-newline-space", ["report", "results_newline_space.parquet", "-o", "r.html"]),
    ("run-slots-0", ["run", f"{E}/ok.yaml", "-o", "run1", "--slots", "0"]),
    ("run-slots-huge", ["run", f"{E}/ok.yaml", "-o", "run1", "--slots", "100000"]),
    ("run-threads-huge", ["run", f"{E}/ok.yaml", "-o", "run1", "--threads", "5000"]),
    ("run-retries-negative", ["run", f"{E}/ok.yaml", "-o", "run1", "--max-retries", "-1"]),
    ("run-mem-inf", ["run", f"{E}/ok.yaml", "-o", "run1", "--mem-gb", "inf"]),
    ("run-under-proc", ["run", f"{E}/ok.yaml", "-o", "/proc/run1"]),
    ("run-long-out", ["run", f"{E}/ok.yaml", "-o", LONG]),
    ("run-experiment-is-dir", ["run", E, "-o", "run1"]),
    # dsd status
    ("status-missing", ["status", "nowhere"]),
    ("status-damaged-plan", ["status", "damaged_run"]),
    ("status-plan-not-object", ["status", "plan_not_object"]),
    ("status-of-file", ["status", "afile.txt"]),
    ("status-long-name", ["status", LONG]),
    # dsd edf
    ("edf-same-file-twice", ["edf", R, R]),
    ("edf-same-models-twice", ["edf", R, "results_copy.parquet"]),
    ("edf-two-recipes", ["edf", R, "results_other_lr.parquet"]),
    ("edf-missing", ["edf", "missing.parquet"]),
    ("edf-corrupt", ["edf", "corrupt.parquet"]),
    ("edf-wrong-columns", ["edf", "wrong.csv"]),
    ("edf-by-list-column", ["edf", R, "--by", "depths"]),
    ("edf-by-unknown", ["edf", R, "--by", "colour"]),
    ("edf-bad-filter", ["edf", R, "--filter", "nonsense"]),
    ("edf-bad-extension", ["edf", R, "-o", "edf.xyz"]),
    ("edf-under-proc", ["edf", R, "-o", "/proc/edf.png"]),
    ("edf-bins-0", ["edf", R, "--normalize", "flops", "--bins", "0"]),
    ("edf-range-reversed", ["edf", R, "--normalize", "flops", "--range", "5:1"]),
    # dsd bootstrap
    ("bootstrap-reps-0", ["bootstrap", R, "--reps", "0"]),
    ("bootstrap-reps-huge", ["bootstrap", R, "--reps", BIG_SEED]),
    ("bootstrap-out-of-memory", ["bootstrap", R, "--reps", "2000000000"]),
    ("bootstrap-frac-0", ["bootstrap", R, "--frac", "0"]),
    ("bootstrap-frac-2", ["bootstrap", R, "--frac", "2"]),
    ("bootstrap-ci-1.5", ["bootstrap", R, "--ci", "1.5"]),
    ("bootstrap-ci-nan", ["bootstrap", R, "--ci", "nan"]),
    ("bootstrap-unknown-param", ["bootstrap", R, "--param", "colour"]),
    ("bootstrap-seed-negative", ["bootstrap", R, "--seed", "-1"]),
    ("bootstrap-duplicates", ["bootstrap", R, R]),
    # dsd fit
    ("fit-top-0", ["fit", R, "--top", "0"]),
    ("fit-plot-negative", ["fit", R, "--plot", "-1"]),
    ("fit-duplicates", ["fit", R, R]),
    ("fit-under-proc", ["fit", R, "-o", "/proc/fit.png"]),
    # dsd time / runtime / refine
    ("time-unknown-model", ["time", "NoSuchModel", "-o", "t.parquet"]),
    ("time-bad-extension", ["time", "RegNetX-400MF", "-o", "t.txt"]),
    ("time-under-proc", ["time", "RegNetX-400MF", "-o", "/proc/t.parquet"]),
    ("time-batch-0", ["time", "RegNetX-400MF", "--batch-size", "0", "-o", "t.parquet"]),
    ("time-repeats-negative", ["time", "RegNetX-400MF", "--repeats", "-1", "-o", "t.parquet"]),
    # upper bounds: set_num_threads(100000) was a segmentation fault, 1e9 repeats never ended
    ("time-threads-huge", ["time", "RegNetX-400MF", "--threads", "100000", "-o", "t.parquet"]),
    ("time-repeats-huge", ["time", "RegNetX-400MF", "--repeats", "1000000000", "-o", "t.parquet"]),
    ("time-warmup-huge", ["time", "RegNetX-400MF", "--warmup", "1000000000", "-o", "t.parquet"]),
    ("time-batch-huge", ["time", "RegNetX-400MF", "--batch-size", "10000000", "-o", "t.parquet"]),
    ("time-resolution-0", ["time", "RegNetX-400MF", "--resolution", "0", "-o", "t.parquet"]),
    ("time-corrupt-samples", ["time", "corrupt.parquet", "-o", "t.parquet"]),
    ("runtime-missing", ["runtime", "missing.parquet"]),
    ("runtime-corrupt", ["runtime", "corrupt.parquet"]),
    ("runtime-wrong-columns", ["runtime", "wrong.csv"]),
    ("refine-unknown-space", ["refine", R, "--space", "NoSuchSpace"]),
    ("refine-bomb-space", ["refine", R, "--space", f"{SP}/bomb.yaml"]),
    ("refine-alpha-2", ["refine", R, "--space", "AnyNetXA", "--alpha", "2"]),
    ("refine-alpha-nan", ["refine", R, "--space", "AnyNetXA", "--alpha", "nan"]),
    ("refine-reps-0", ["refine", R, "--space", "AnyNetXA", "--reps", "0"]),
    ("refine-duplicates", ["refine", R, R, "--space", "AnyNetXA"]),
    ("refine-missing", ["refine", "missing.parquet", "--space", "AnyNetXA"]),
    ("refine-under-proc", ["refine", R, "--space", "AnyNetXA", "-o", "/proc/next.yaml"]),
    # dsd report
    ("report-bad-extension", ["report", R, "-o", "report.txt"]),
    ("report-under-proc", ["report", R, "-o", "/proc/report.html"]),
    ("report-top-negative", ["report", R, "--top", "-5", "-o", "report.html"]),
    ("report-duplicates", ["report", R, R, "-o", "report.html"]),
]


def test_there_are_at_least_80_cases_over_every_command():
    assert len(CASES) >= 80
    commands = {argv[0] for _, argv in CASES}
    assert commands >= {
        "show",
        "sample",
        "train",
        "run",
        "status",
        "edf",
        "bootstrap",
        "fit",
        "report",
    }
    assert len({name for name, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("argv", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(argv, ws, monkeypatch, capsys):
    monkeypatch.chdir(ws)
    before = _snapshot(ws)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("dsd"), err
    assert "Traceback" not in err and len(lines[0]) < 700
    assert _snapshot(ws) == before  # nothing created, nothing changed


def test_missing_srun_with_executor_slurm_is_one_line(ws, monkeypatch, capsys):
    monkeypatch.chdir(ws)
    monkeypatch.setenv("PATH", str(ws / "spaces"))  # no sbatch / srun on PATH
    before = _snapshot(ws)
    code = main(["run", f"{E}/ok.yaml", "-o", "run1", "--executor", "slurm"])
    err = capsys.readouterr().err
    assert code == 2 and "srun" in err and len(err.strip().split("\n")) == 1
    assert _snapshot(ws) == before


def test_the_yaml_limits_name_the_problem(ws, monkeypatch, capsys):
    monkeypatch.chdir(ws)
    expected = {
        f"{SP}/bomb.yaml": "aliases are expanded",
        f"{SP}/deep.yaml": f"nested deeper than {YAML_MAX_DEPTH}",
        f"{SP}/big.yaml": "larger than 1 MiB",
        f"{SP}/nonutf8.yaml": "not UTF-8 text (byte 0xe9",
    }
    for path, words in expected.items():
        assert main(["show", path]) == 2
        assert words in capsys.readouterr().err


def test_duplicate_results_message_names_the_file(ws, monkeypatch, capsys):
    monkeypatch.chdir(ws)
    assert main(["edf", R, R]) == 2
    err = capsys.readouterr().err
    assert "appears 2 times" in err and R in err and "give each results file once" in err


def test_same_model_in_two_spaces_or_two_seeds_is_not_a_repeat(tmp_path):
    from dsd.analysis.data import read_results

    a = synthetic_results(20, failed=0)
    write_table(a, tmp_path / "a.parquet")
    write_table(a.assign(space="AnyNetXB"), tmp_path / "b.parquet")  # drawn from both spaces
    write_table(a.assign(train_seed=1), tmp_path / "c.parquet")  # a second training seed
    df = read_results([tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"])
    assert len(df) == 60


def test_a_batch_larger_than_the_data_names_the_data_set(ws, monkeypatch, capsys):
    monkeypatch.chdir(ws)
    assert main(["train", S, "--batch-size", "5000", "-o", "r1.parquet"]) == 2
    err = capsys.readouterr().err
    assert "digits: 1347 training images, fewer than one batch of 5000" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["edf", "pipe.parquet", "-o", "x.png"],
        ["report", "pipe.parquet", "-o", "x.html"],
        ["refine", "pipe.parquet", "--space", "AnyNetXA"],
        ["train", "pipe.parquet", "-o", "out.parquet"],
        ["time", "pipe.parquet"],
        ["runtime", "pipe.parquet"],
        ["run", "pipe.yaml", "-o", "run"],
        ["experiments", "pipe.yaml", "--no-estimate"],
        ["show", "pipe.yaml"],
    ],
    ids=lambda a: "-".join(a[:2]),
)
def test_a_fifo_as_input_is_refused_without_reading_it(argv, tmp_path, monkeypatch, capsys):
    # Opening a FIFO blocks until a writer comes: refused by its kind before any open (an
    # alarm turns a regression into a failure instead of a hung suite).
    os.mkfifo(tmp_path / "pipe.parquet")
    os.mkfifo(tmp_path / "pipe.yaml")
    monkeypatch.chdir(tmp_path)
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail(f"dsd {argv[0]} blocked on a FIFO"))
    signal.alarm(30)
    try:
        code = main(argv)
    finally:
        signal.alarm(0)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "not a regular file" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.parquet", "pipe.yaml"]
