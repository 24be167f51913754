"""``dsd doctor`` on this CPU machine and on faked CUDA machines, and ``make gpu`` as a dry run."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from trainer_fixtures import cifar_archive, write_cifar, write_imagefolder

from dsd.cli import main
from dsd.trainer import doctor

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cpu_machine(monkeypatch):
    """A machine without a GPU or an NVIDIA driver, with a CPU-only torch."""
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(doctor, "nvidia_driver", lambda: False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)


def fake_gpus(monkeypatch, name: str, capability: tuple[int, int], count: int = 2) -> None:
    """torch reports ``count`` GPUs called ``name`` (nothing runs on them)."""
    props = SimpleNamespace(
        name=name, total_memory=80 * 2**30, major=capability[0], minor=capability[1]
    )
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90100)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)


def _run(capsys, *argv) -> tuple[int, dict[str, str], list[str]]:
    """Exit code, the ``topic -> value`` lines and the advice lines of ``dsd doctor``."""
    code = main(["doctor", *argv])
    out = capsys.readouterr().out.splitlines()
    advice = [line.removeprefix("advice: ") for line in out if line.startswith("advice: ")]
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in out if "  " in line)
    return code, rows, advice


def test_a_cpu_machine_is_healthy(capsys, cpu_machine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./data here
    code, rows, advice = _run(capsys)
    assert code == 0 and advice == [], advice
    assert rows["torch"].startswith(f"{torch.__version__} (CPU only")
    assert rows["CUDA"].startswith("not available (a CPU machine")
    assert rows["digits"] == "built in (scikit-learn)"
    assert rows["dsd"] == __import__("dsd").__version__


def test_an_nvidia_driver_beside_a_cpu_torch_says_make_gpu(capsys, cpu_machine, monkeypatch):
    monkeypatch.setattr(doctor, "nvidia_driver", lambda: True)
    code, rows, advice = _run(capsys)
    assert code == 1 and rows["CUDA"] == "not available (torch is a CPU-only build)"
    assert len(advice) == 1 and "run `make gpu`" in advice[0]


def test_a_cuda_torch_that_sees_no_gpu_is_off(capsys, cpu_machine, monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90100)
    code, _, advice = _run(capsys)
    assert code == 1 and "built for CUDA 12.8 but sees no GPU" in advice[0]


def test_a_faked_machine_with_two_h200s(capsys, monkeypatch):
    fake_gpus(monkeypatch, "NVIDIA H200", (9, 0))
    code, rows, advice = _run(capsys)
    assert rows["torch"] == f"{torch.__version__} (CUDA 12.8, cuDNN 90100)"
    assert rows["CUDA"] == "available, 2 GPU(s)"
    assert rows["GPU 1"] == "NVIDIA H200, 80 GiB, compute 9.0, bf16 yes"
    assert code == 0 and advice == []


def test_a_gpu_without_bf16_advises_fp16(capsys, monkeypatch):
    fake_gpus(monkeypatch, "Tesla V100-SXM2-32GB", (7, 0), count=1)
    code, rows, advice = _run(capsys)
    assert rows["GPU 0"] == "Tesla V100-SXM2-32GB, 80 GiB, compute 7.0, bf16 no"
    assert code == 1 and advice == [
        "GPU 0: this GPU has no native bf16 (compute < 8.0): put `precision: fp16` in the "
        "experiment's "
        "recipe (the default, auto, uses bf16 on CUDA)"
    ]


def test_more_threads_than_usable_cores_is_off(capsys, cpu_machine, monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 10_000)
    code, _, advice = _run(capsys)
    assert code == 1 and "OMP_NUM_THREADS=" in advice[0]


def test_the_data_sets_it_finds(capsys, cpu_machine, tmp_path):
    write_cifar(tmp_path / "tv" / "cifar-10-batches-py", 4)  # torchvision's root
    (tmp_path / "arc").mkdir()
    (tmp_path / "arc" / "cifar-10-python.tar.gz").write_bytes(cifar_archive(4))
    write_imagefolder(tmp_path / "imgs")
    roots = [tmp_path / "tv", tmp_path / "arc", tmp_path / "imgs"]
    code, rows, advice = _run(capsys, *(a for r in roots for a in ("--data", str(r))))
    assert code == 0 and advice == []
    tv, arc, imgs = (rows[f"data {r}"] for r in roots)  # one line per root
    assert tv == f"cifar10 at {tmp_path / 'tv' / 'cifar-10-batches-py'}"
    assert arc == f"cifar10 at {tmp_path / 'arc' / 'cifar-10-python.tar.gz'} (archive)"
    assert imgs == f"imagefolder at {tmp_path / 'imgs'} (3 classes)"
    code, _, advice = _run(capsys, "--data", str(tmp_path / "nowhere"))
    assert code == 1 and "no CIFAR-10 and no train/ + val/ image folder" in advice[0]


def test_the_compile_check_is_time_bounded_and_reports_failures(capsys, cpu_machine, monkeypatch):
    monkeypatch.setattr(doctor, "COMPILE_CHECK", "print(1)")
    code, rows, _ = _run(capsys, "--compile")
    assert code == 0 and rows["torch.compile"].startswith("works (")
    monkeypatch.setattr(doctor, "COMPILE_CHECK", "import time; time.sleep(30)")
    code, rows, advice = _run(capsys, "--compile", "--timeout", "0.5")
    assert code == 1 and rows["torch.compile"] == "did not finish in 0.5 s"
    assert advice == ["train without --compile"]
    monkeypatch.setattr(doctor, "COMPILE_CHECK", "raise SystemExit('no C++ compiler')")
    code, rows, advice = _run(capsys, "--compile")
    assert code == 1 and rows["torch.compile"] == "fails" and "no C++ compiler" in advice[0]
    assert main(["doctor", "--timeout", "0"]) == 2


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_gpu_installs_a_cuda_build_first_then_dsd_then_checks(tmp_path):
    # Called from `make test` (as CI does), the parent's MAKEFLAGS would make this make print
    # "Entering/Leaving directory" lines: run it as a make of its own.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "gpu", "CUDA=cu126", f"VENV={tmp_path / 'v'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.splitlines()
    pip = [line for line in dry if " -m pip install " in line]
    torch_line = next(i for i, line in enumerate(pip) if "torch==" in line)
    assert pip[torch_line].endswith(
        '-m pip install "torch==2.13.0+cu126" --index-url https://download.pytorch.org/whl/cu126'
    )
    assert '-e ".[dev]"' in pip[torch_line + 1]  # dsd after torch: it never pulls torch itself
    assert dry[-1] == f"{tmp_path / 'v'}/bin/dsd doctor"


def test_the_archive_fixture_has_the_real_layout():
    with tarfile.open(fileobj=io.BytesIO(cifar_archive(2))) as tar:
        names = sorted(tar.getnames())
    assert names[0] == "cifar-10-batches-py/batches.meta" and len(names) == 8
