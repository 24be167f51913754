"""Small builders for the trainer tests: tiny nets, samples files, CIFAR pickles, image folders."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

from dsd.nets import AnyNet
from dsd.trainer import sample_row


def tiny_net(width: int = 32, classes: int = 10, resolution: int = 8, **changes) -> AnyNet:
    """A two-stage AnyNet of ~10k parameters (trains an epoch of digits in about a second)."""
    fields = dict(
        depths=(1, 1),
        widths=(16, width),
        group_widths=8,
        bottleneck_ratios=1,
        strides=2,
        stem="res_stem_cifar",
        stem_width=16,
        num_classes=classes,
        resolution=resolution,
    )
    fields.update(changes)
    return AnyNet(**fields)


def write_samples(path: Path, nets: list[AnyNet]) -> Path:
    """A samples file with one row a net, in the schema of docs/CONTRACTS.md."""
    pd.DataFrame([sample_row(n, space="test") for n in nets]).to_parquet(path)
    return path


def cifar_images(n: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """``n`` random CIFAR rows (uint8, 3072 = 3 x 32 x 32 channel-major) and labels 0..9."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, size=n)]
    return data, labels


CIFAR_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def cifar_batch(name: str, n: int, seed: int, str_keys: bool = False) -> bytes:
    """One pickled CIFAR-10 batch: byte keys as the authors' Python 2 pickles, or str keys."""
    data, labels = cifar_images(n, seed=seed)
    d = {b"data": data, b"labels": labels, b"batch_label": name.encode()}
    if str_keys:
        d = {k.decode(): v for k, v in d.items()}
    return pickle.dumps(d, protocol=2)


def write_cifar(root: Path, n_per_batch: int = 40, str_keys: bool = False) -> Path:
    """The CIFAR-10 python layout (data_batch_1..5, test_batch) with random images."""
    root.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(CIFAR_NAMES):
        (root / name).write_bytes(cifar_batch(name, n_per_batch, seed=i, str_keys=str_keys))
    return root


def cifar_archive(n_per_batch: int = 8, str_keys: bool = False) -> bytes:
    """A small ``cifar-10-python.tar.gz`` with the real layout: ``cifar-10-batches-py/`` holding
    the six batches, ``batches.meta`` and ``readme.html`` (images as :func:`write_cifar`'s)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        members = {
            n: cifar_batch(n, n_per_batch, seed=i, str_keys=str_keys)
            for i, n in enumerate(CIFAR_NAMES)
        }
        members["batches.meta"] = pickle.dumps({b"label_names": [b"airplane"] * 10}, protocol=2)
        members["readme.html"] = b"<html></html>"
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_imagefolder(root: Path, classes=("cat", "dog", "owl"), n_train=6, n_val=2) -> Path:
    """train/<class>/*.png and val/<class>/*.png; class k's images are filled with gray 40 + 80k."""
    from PIL import Image

    for split, n in (("train", n_train), ("val", n_val)):
        for k, cls in enumerate(classes):
            folder = root / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                size = (20 + 3 * i, 16 + 2 * k)  # (width, height): mixed sizes and aspects
                Image.new("RGB", size, (40 + 80 * k,) * 3).save(folder / f"{i}.png")
    return root
