"""One model in, one result record out (docs/CONTRACTS.md): :func:`train_row` and :func:`train`.

A NaN/inf loss gives ``status="diverged"``, any exception ``"failed"`` with a ``reason``; a
run-level problem (data set, class count, device) raises DataError, as every model would fail.
``train_seconds`` is the whole model's wall time; ``images_per_second`` times the steps only.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from dsd._version import __version__
from dsd.errors import DataError, DsdError
from dsd.nets import AnyNet, build_model, complexity
from dsd.schema import SCHEMA_VERSION
from dsd.trainer.config import TrainConfig
from dsd.trainer.data import Data, load_dataset
from dsd.trainer.device import device_name, pick_device
from dsd.trainer.engine import Curves, Diverged, steps_per_epoch, train_epochs

REASON_MAX_CHARS = 500

ModelBuilder = Callable[[AnyNet], torch.nn.Module]


def sample_row(net: AnyNet, space: str = "custom", seed: int = 0) -> dict[str, Any]:
    """A samples-table row for one AnyNet, as ``dsd sample`` writes it."""
    return {
        "model_id": net.model_id,
        "space": space,
        "seed": seed,
        "schema_version": SCHEMA_VERSION,
        **net.to_dict(),
        "regime": "{}",
        **complexity(net),
    }


def dataset_for(config: TrainConfig, net: AnyNet, device: torch.device | None = None) -> Data:
    """Load (cached) the run's data set at ``net``'s resolution; DataError if classes differ."""
    device = device if device is not None else pick_device(config.device)
    data = load_dataset(
        config.dataset,
        config.data,
        net.resolution,
        device=device,
        num_classes=net.num_classes,
        synthetic_size=config.synthetic_size,
    )
    if data.num_classes != net.num_classes:
        raise DataError(
            f"dataset {config.dataset} has {data.num_classes} classes but the model has "
            f"num_classes={net.num_classes} (sample with --classes {data.num_classes})"
        )
    steps_per_epoch(data, config.batch_size)
    return data


def check_rows(rows: Iterable[Mapping[str, Any]], config: TrainConfig) -> None:
    """Load the data set for each (resolution, classes) of ``rows`` up front; DataError if unusable
    (an invalid row is skipped: train_row records it as failed)."""
    device = pick_device(config.device)
    seen = set()
    for row in rows:
        try:
            net = AnyNet.from_dict(row)
        except (DsdError, TypeError, ValueError):
            continue
        if (net.resolution, net.num_classes) not in seen:
            seen.add((net.resolution, net.num_classes))
            dataset_for(config, net, device)


def train_row(
    row: Mapping[str, Any],
    config: TrainConfig,
    *,
    build: ModelBuilder | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """The result record of one samples row trained with ``config`` (``build`` replaces
    :func:`dsd.nets.build_model`; ``progress`` shows a tqdm bar on stderr)."""
    # numpy arrays and scalars as Python lists and numbers
    record = {
        str(k): v.tolist() if isinstance(v, np.generic | np.ndarray) else v for k, v in row.items()
    }
    try:
        net = AnyNet.from_dict(row)
    except (DsdError, TypeError, ValueError) as e:
        return _result_record(record, config, "failed", _failure_reason(e), Curves(), 0.0, "")
    record.setdefault("model_id", net.model_id)
    device = pick_device(config.device)
    data = dataset_for(config, net, device)
    torch.manual_seed(config.seed)
    bar = None
    if progress:
        steps = steps_per_epoch(data, config.batch_size) * config.epochs
        desc = f"model {record['model_id']}"
        bar = tqdm(total=steps, desc=desc, unit="step", leave=False, file=sys.stderr)
    t0 = time.perf_counter()
    status, reason, curves = "ok", "", Curves()
    try:
        model = (build or build_model)(net)
        curves = train_epochs(model, data, config, device, on_step=bar.update if bar else None)
    except Diverged as e:
        status, reason, curves = "diverged", _failure_reason(e), e.curves or Curves()
    except DataError as e:  # e.g. a corrupt image, re-raised from a DataLoader worker
        raise DataError(_last_line(e)) from None
    except Exception as e:  # a model-level failure: OOM, a bad config, a module that raises
        status, reason = "failed", _failure_reason(e)
    finally:
        if bar is not None:
            bar.close()
    if status != "ok" and device.type == "cuda":
        torch.cuda.empty_cache()  # after the except block, which kept the failed model alive
    seconds = time.perf_counter() - t0
    return _result_record(record, config, status, reason, curves, seconds, device)


def train(
    net: AnyNet | Mapping[str, Any],
    dataset: str = "digits",
    *,
    data: str | None = None,
    epochs: int = 10,
    build: ModelBuilder | None = None,
    progress: bool = False,
    **recipe: Any,
) -> dict[str, Any]:
    """Train one model briefly and return its result record (``recipe``: :class:`TrainConfig`).

    >>> net = dsd.AnyNet(depths=(1, 1), widths=(16, 32), group_widths=8, stem="res_stem_cifar",
    ...                  stem_width=16, num_classes=10, resolution=16)
    >>> rec = dsd.train(net, "digits", epochs=2, batch_size=64)
    >>> rec["status"], rec["top1_err"]          # doctest: +SKIP
    ('ok', 0.07)
    """
    config = TrainConfig(dataset=dataset, data=data, epochs=epochs, **recipe)
    row = sample_row(net) if isinstance(net, AnyNet) else dict(net)
    return train_row(row, config, build=build, progress=progress)


def _result_record(record, config, status, reason, curves, seconds, device) -> dict[str, Any]:
    ok = status == "ok"
    record.update(
        dataset=config.dataset,
        epochs=int(config.epochs),
        **config.recipe(),
        train_seed=int(config.seed),
        status=status,
        reason=reason,
        top1_err=float(curves.test_err[-1]) if ok else math.nan,
        top1_err_min=float(min(curves.test_err)) if ok else math.nan,
        train_loss=[float(v) for v in curves.train_loss],
        test_err=[float(v) for v in curves.test_err],
        train_seconds=float(seconds),
        images_per_second=float(curves.images_per_second),
        device=device_name(device),
        torch_version=torch.__version__,
        dsd_version=__version__,
        finished_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    return record


def _last_line(e: BaseException) -> str:
    """The message of an exception, or of the one a DataLoader worker wrapped."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else type(e).__name__
    return lines[-1].split("DataError: ", 1)[-1]


def _failure_reason(e: BaseException) -> str:
    """An exception as one short line: ``Type: message``."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}"[:REASON_MAX_CHARS]
