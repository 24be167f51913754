"""``dsd doctor``'s checks of a new machine (:func:`machine_findings`): something is *off* when dsd
would run slower or not at all without the user knowing; a CPU machine without a GPU is healthy."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from dsd._version import __version__
from dsd.errors import DataError
from dsd.trainer.cifar import BATCHES, cifar10_source

DATA_ROOTS = ("data", "~/data")
#: The torch.compile check's tiny model, run in a child process.
COMPILE_CHECK = (
    "import torch; dev = 'cuda' if torch.cuda.is_available() else 'cpu'; "
    "m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()).to(dev); "
    "print(float(torch.compile(m)(torch.randn(2, 3, 16, 16, device=dev)).sum()))"
)

NO_BF16 = (
    "this GPU has no native bf16 (compute < 8.0): put `precision: fp16` in the experiment's "
    "recipe (the default, auto, uses bf16 on CUDA)"
)
NOTHING = "no CIFAR-10 and no train/ + val/ image folder there (dsd data cifar10 --root DIR)"


@dataclass(frozen=True)
class Finding:
    """One line of the check: a topic, what was found, advice when something is off."""

    topic: str
    value: str
    advice: str = ""

    @property
    def ok(self) -> bool:
        return not self.advice


def nvidia_driver() -> bool:
    """Whether this machine has an NVIDIA driver."""
    return shutil.which("nvidia-smi") is not None or Path("/proc/driver/nvidia/version").exists()


def _software() -> list[Finding]:
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU only"
    cudnn = torch.backends.cudnn.version() if torch.version.cuda else None
    return [
        Finding("dsd", __version__),
        Finding("python", platform.python_version()),
        Finding("torch", f"{torch.__version__} ({build}{f', cuDNN {cudnn}' if cudnn else ''})"),
    ]


def _no_cuda() -> Finding:
    if torch.version.cuda:
        return Finding(
            "CUDA",
            "not available",
            f"torch is built for CUDA {torch.version.cuda} but sees no GPU: check nvidia-smi, "
            "that the driver supports this CUDA version, and CUDA_VISIBLE_DEVICES",
        )
    if nvidia_driver():
        return Finding(
            "CUDA",
            "not available (torch is a CPU-only build)",
            "this machine has an NVIDIA driver but torch is a CPU-only build: run `make gpu` "
            "(see the README's GPU section)",
        )
    return Finding("CUDA", "not available (a CPU machine: dsd trains on the CPU)")


def _gpus() -> list[Finding]:
    if not torch.cuda.is_available():
        return [_no_cuda()]
    n = torch.cuda.device_count()
    out = [Finding("CUDA", f"available, {n} GPU(s)")]
    for i in range(n):
        p = torch.cuda.get_device_properties(i)
        bf16 = (p.major, p.minor) >= (8, 0)
        value = f"{p.name}, {p.total_memory / 2**30:.0f} GiB, compute {p.major}.{p.minor}, bf16 "
        advice = "" if bf16 else f"GPU {i}: {NO_BF16}"
        out.append(Finding(f"GPU {i}", value + ("yes" if bf16 else "no"), advice))
    return out


def _threads() -> Finding:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = torch.get_num_threads()
    value = f"torch uses {threads}, {usable} core(s) usable of {os.cpu_count()}"
    advice = f"torch uses more threads than usable cores: set OMP_NUM_THREADS={usable}"
    return Finding("threads", value, advice if usable and threads > usable else "")


def _cifar10(root: Path) -> str:
    """Where CIFAR-10 lies under ``root`` ('' if not there)."""
    try:
        src = cifar10_source(root)
    except DataError:
        return ""
    if src.is_file():
        return f"{src} (archive)"
    return str(src) if all((src / n).is_file() for n in BATCHES) else ""


def _data(roots: Sequence[str], given: bool) -> list[Finding]:
    """digits, then what each root holds; advice for a given root that holds nothing."""
    out = [Finding("digits", "built in (scikit-learn)")]
    for text in roots:
        root = Path(text).expanduser()
        found = []
        if cifar := _cifar10(root):
            found.append(f"cifar10 at {cifar}")
        if (root / "train").is_dir() and (root / "val").is_dir():
            classes = sum(1 for p in (root / "train").iterdir() if p.is_dir())
            found.append(f"imagefolder at {root} ({classes} classes)")
        if found:
            out.append(Finding(f"data {text}", "; ".join(found)))
        elif given:
            out.append(Finding(f"data {text}", "nothing dsd can read", f"{text}: {NOTHING}"))
    if len(out) == 1 and not given:
        out.append(
            Finding("cifar10", f"not under {', '.join(roots)} (dsd data cifar10 fetches it)")
        )
    return out


def compile_check(timeout: float) -> Finding:
    """torch.compile of a tiny model in a child process, stopped after ``timeout`` seconds."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", COMPILE_CHECK], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return Finding(
            "torch.compile", f"did not finish in {timeout:g} s", "train without --compile"
        )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1][:200]
        return Finding("torch.compile", "fails", f"train without --compile ({last})")
    return Finding("torch.compile", f"works ({seconds:.1f} s for a first compile)")


def machine_findings(
    data_roots: Sequence[str] = (), *, compile_timeout: float | None = None
) -> list[Finding]:
    """Every finding about this machine, with torch.compile when ``compile_timeout`` is given."""
    roots = tuple(data_roots) or DATA_ROOTS
    findings = [*_software(), *_gpus(), _threads(), *_data(roots, given=bool(data_roots))]
    if compile_timeout is not None:
        findings.append(compile_check(compile_timeout))
    return findings
