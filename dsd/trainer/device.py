"""Where and in what precision a model computes (docs/GLOSSARY.md): the one check of a device
string, and autocast: ``auto`` is bf16 on CUDA and fp32 elsewhere, fp16 has a gradient scaler."""

from __future__ import annotations

import contextlib
import re

import torch

from dsd.errors import DataError, DsdError

DEVICES = ("auto", "cpu", "cuda", "cuda:N")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
_DEVICE = re.compile(r"auto|cpu|cuda(:(0|[1-9][0-9]{0,3}))?")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}


def check_device(name: object) -> str:
    """``name`` if it is a device spelling dsd accepts; DsdError otherwise.

    >>> check_device("cuda:1")
    'cuda:1'
    """
    if not isinstance(name, str) or not _DEVICE.fullmatch(name):
        shown = repr(name)[:60]
        raise DsdError(f"unknown device {shown} (use {', '.join(DEVICES[:-1])} or {DEVICES[-1]})")
    return name


def pick_device(name: str = "auto") -> torch.device:
    """The torch device of ``name`` on this machine; DataError (every model would fail alike) if
    it is not a spelling dsd accepts or this machine lacks it (never a quiet run on the CPU)."""
    try:
        check_device(name)
    except DsdError as e:
        raise DataError(str(e)) from None
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise DataError(
            f"device {name!r}: CUDA is not available on this machine (torch {torch.__version__}, "
            f"{build}); use --device cpu, or see `dsd doctor`"
        )
    index = int(name.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise DataError(
            f"device {name!r}: this machine has {count} GPU(s), cuda:0..cuda:{count - 1}"
        )
    return torch.device(name)


def device_name(device: torch.device | str) -> str:
    """``cpu``, or ``cuda:0 (NVIDIA H200)`` with the accelerator's name."""
    if not isinstance(device, torch.device):
        return str(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return device.type


def check_precision(precision: object) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`; DsdError otherwise."""
    if precision not in PRECISIONS:
        raise DsdError(f"unknown precision {precision!r} (use {', '.join(PRECISIONS)})")
    return str(precision)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast type of ``precision`` on ``device`` (None: plain fp32)."""
    if check_precision(precision) == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return _DTYPES[precision]


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast of the forward pass to ``precision``'s type on ``device``, or a no-op for fp32."""
    dtype = autocast_dtype(precision, device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler:
    """A gradient scaler, enabled for fp16 only (bf16 and fp32 have fp32's range)."""
    on = autocast_dtype(precision, device) is torch.float16
    return torch.amp.GradScaler(device.type, enabled=on)
