"""Data sets of the short schedule, loaded once per process: :class:`TensorData` (digits,
cifar10, synthetic: held on the device, augmented there) and :class:`FolderData` (an image folder,
decoded in DataLoader workers). Anything wrong with the data raises DataError naming the path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dsd.errors import DataError
from dsd.nets import LIMITS
from dsd.trainer import transforms as T
from dsd.trainer.cifar import read_cifar10

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")
IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
#: Resolutions served (inclusive; others any): a model at 224 would see digits or CIFAR-10
#: upsampled 7-28 times, so it is refused before training.
RESOLUTIONS = {"digits": (4, 32), "cifar10": (4, 32)}


@dataclass(frozen=True, eq=False)
class TensorData:
    """A data set held as uint8 ``N x 3 x R x R`` tensors, augmented on its device: random crop
    with zero padding ``pad`` (0: none), random flips if ``flip``; ``mean``, ``std`` in 0..255."""

    name: str
    num_classes: int
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    pad: int
    flip: bool

    @property
    def resolution(self) -> int:
        return int(self.train_x.shape[-1])

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def to(self, device: torch.device | str) -> TensorData:
        """A copy with every tensor on ``device``."""
        names = ("train_x", "train_y", "test_x", "test_y", "mean", "std")
        return replace(self, **{k: getattr(self, k).to(device) for k in names})


@dataclass(frozen=True, eq=False)
class FolderData:
    """An image folder: (path, label) lists, decoded on demand in DataLoader workers."""

    name: str
    num_classes: int
    classes: tuple[str, ...]
    train: tuple[tuple[str, int], ...]
    val: tuple[tuple[str, int], ...]
    resolution: int
    mean: torch.Tensor
    std: torch.Tensor


Data = TensorData | FolderData

_CACHE: dict[tuple, Data] = {}


def load_dataset(
    name: str,
    data: str | None,
    resolution: int,
    *,
    device: torch.device | str = "cpu",
    num_classes: int = 10,
    synthetic_size: int = 2048,
) -> Data:
    """The data set ``name`` at ``resolution``, tensors on ``device`` (cached per process: the
    sweep trains many models in one worker). ``num_classes`` and ``synthetic_size``: synthetic's."""
    path = str(Path(data).expanduser().resolve()) if data else None
    extra = (num_classes, synthetic_size) if name == "synthetic" else ()
    key = (name, path, int(resolution), str(device), *extra)
    if key not in _CACHE:
        cpu_key = (name, path, int(resolution), "cpu", *extra)
        if cpu_key not in _CACHE:
            _CACHE[cpu_key] = _load(name, path, int(resolution), num_classes, synthetic_size)
        base = _CACHE[cpu_key]
        _CACHE[key] = base.to(device) if isinstance(base, TensorData) else base
    return _CACHE[key]


def clear_cache() -> None:
    """Forget every loaded data set."""
    _CACHE.clear()


def check_resolution(name: str, resolution: int) -> None:
    """DataError unless data set ``name`` serves images at ``resolution`` (:data:`RESOLUTIONS`)."""
    low, high = RESOLUTIONS.get(name, (4, LIMITS["resolution"]))
    if resolution < low:
        raise DataError(f"resolution {resolution} is too small (need >= {low})")
    if resolution > high:
        native = {"digits": 8, "cifar10": 32}[name]
        raise DataError(
            f"dataset {name} has {native}x{native} images, served at resolutions {low} to {high}; "
            f"the model has resolution {resolution} (sample with --resolution {min(high, 32)})"
        )


def _load(name: str, path: str | None, resolution: int, num_classes: int, size: int) -> Data:
    check_resolution(name, resolution)
    if name == "digits":
        return load_digits(resolution)
    if name == "synthetic":
        return load_synthetic(resolution, num_classes, size)
    if path is None:
        raise DataError(f"dataset {name} needs a data path (--data DIR)")
    if name == "cifar10":
        return load_cifar10(path, resolution)
    if name == "imagefolder":
        return load_imagefolder(path, resolution)
    raise DataError(f"unknown dataset {name!r} (use digits, cifar10, imagefolder or synthetic)")


def channel_stats(x: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of a uint8 ``N x C x H x W`` tensor (float64 sums, in chunks)."""
    s = torch.zeros(x.shape[1], dtype=torch.float64)
    s2 = torch.zeros_like(s)
    for i in range(0, len(x), chunk):
        part = x[i : i + chunk].double()
        s += part.sum(dim=(0, 2, 3))
        s2 += (part * part).sum(dim=(0, 2, 3))
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = s / count
    std = (s2 / count - mean * mean).clamp_min(1e-6).sqrt()
    return mean.float(), std.float()


def _tensor_data(name, num_classes, train, test, flip, stats=None) -> TensorData:
    """A TensorData from (x, y) pairs, with channel statistics of train unless given; the crop
    pads by an eighth of the side (4 at 32, as pycls)."""
    mean, std = stats if stats is not None else channel_stats(train[0])
    return TensorData(
        name=name,
        num_classes=num_classes,
        train_x=train[0].contiguous(),
        train_y=train[1].long(),
        test_x=test[0].contiguous(),
        test_y=test[1].long(),
        mean=torch.as_tensor(mean, dtype=torch.float32),
        std=torch.as_tensor(std, dtype=torch.float32),
        pad=int(train[0].shape[-1]) // 8,
        flip=flip,
    )


def load_digits(resolution: int) -> TensorData:
    """scikit-learn's 8x8 digits, resized, 3 channels, a fixed stratified split; no flips (a
    mirrored digit is another symbol)."""
    # lazy: scikit-learn costs ~0.9 s at import (measured); only the digits data set needs it
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split  # lazy: as above

    bunch = sk_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    idx_train, idx_test = train_test_split(
        np.arange(len(images)),
        test_size=0.25,  # 1347 train, 450 test
        stratify=bunch.target,
        random_state=0,
    )
    x = torch.from_numpy(images)[:, None].expand(-1, 3, -1, -1)
    x = T.resize(x, resolution)
    y = torch.from_numpy(bunch.target)
    train = (x[idx_train], y[idx_train])
    test = (x[idx_test], y[idx_test])
    return _tensor_data("digits", 10, train, test, flip=False)


def load_cifar10(path: str, resolution: int) -> TensorData:
    """CIFAR-10 from any place :mod:`dsd.trainer.cifar` reads, resized; crop and flip as pycls."""
    parts = read_cifar10(path)
    train = [parts[f"data_batch_{i}"] for i in range(1, 6)]
    train_x = torch.from_numpy(np.concatenate([x for x, _ in train]))
    train_y = torch.from_numpy(np.concatenate([y for _, y in train]))
    test_x, test_y = (torch.from_numpy(a) for a in parts["test_batch"])
    train_x, test_x = T.resize(train_x, resolution), T.resize(test_x, resolution)
    return _tensor_data("cifar10", 10, (train_x, train_y), (test_x, test_y), flip=True)


def load_synthetic(resolution: int, num_classes: int, size: int, seed: int = 0) -> TensorData:
    """Random images and labels, ``size`` for training (for speed tests: nothing to learn)."""
    g = torch.Generator().manual_seed(seed)
    n_test = max(1, size // 4)
    x = torch.randint(
        0, 256, (size + n_test, 3, resolution, resolution), dtype=torch.uint8, generator=g
    )
    y = torch.randint(0, num_classes, (size + n_test,), generator=g)
    stats = (torch.full((3,), 127.5), torch.full((3,), 73.9))
    train, test = (x[:size], y[:size]), (x[size:], y[size:])
    return _tensor_data("synthetic", num_classes, train, test, flip=True, stats=stats)


def load_imagefolder(path: str, resolution: int) -> FolderData:
    """An ImageNet-style folder: ``train/<class>/*`` and ``val/<class>/*`` (train's classes)."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"imagefolder: {root} is not a readable directory")
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise DataError(
                f"imagefolder: {root / split} is missing (need train/ and val/ class folders)"
            )
    classes = tuple(sorted(p.name for p in (root / "train").iterdir() if p.is_dir()))
    if not classes:
        raise DataError(f"imagefolder: {root / 'train'} has no class folders")
    index = {c: i for i, c in enumerate(classes)}
    extra = sorted(p.name for p in (root / "val").iterdir() if p.is_dir() and p.name not in index)
    if extra:
        raise DataError(f"imagefolder: val/ has classes not in train/: {', '.join(extra[:5])}")
    train, val = _list_images(root / "train", index), _list_images(root / "val", index)
    return FolderData(
        name="imagefolder",
        num_classes=len(classes),
        classes=classes,
        train=train,
        val=val,
        resolution=resolution,
        mean=torch.tensor(IMAGENET_MEAN),
        std=torch.tensor(IMAGENET_STD),
    )


def _list_images(split: Path, index: dict[str, int]) -> tuple[tuple[str, int], ...]:
    """(path, label) of every image under ``split/<class>/``, sorted; DataError if none."""
    items = []
    for cls, label in index.items():
        folder = split / cls
        if folder.is_dir():
            files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            items.extend((str(p), label) for p in files)
    if not items:
        raise DataError(f"imagefolder: no images ({', '.join(IMAGE_SUFFIXES)}) under {split}")
    return tuple(items)


class FolderSplit(torch.utils.data.Dataset):
    """One split of a :class:`FolderData` as (uint8 3xRxR tensor, label): random-resized crop and
    flip for training (the worker's RNG, seeded by the DataLoader), resize + centre crop else."""

    def __init__(self, items: tuple[tuple[str, int], ...], resolution: int, train: bool):
        self.items, self.resolution, self.train = items, resolution, train

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path, label = self.items[i]
        if self.train:
            return T.random_resized_crop(decode_image(path), self.resolution), label
        short = round(self.resolution / T.CROP_FRACTION)
        return T.resize_center_crop(decode_image(path, short), self.resolution), label


def decode_image(path: str, min_side: int | None = None) -> torch.Tensor:
    """An image as a uint8 ``3 x H x W`` RGB tensor; DataError if unreadable. ``min_side`` lets
    Pillow decode a JPEG at a reduced scale (much faster where the image is shrunk anyway)."""
    try:
        with Image.open(path) as im:
            if min_side is not None:
                im.draft("RGB", (min_side, min_side))
            arr = np.asarray(im.convert("RGB"))
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError... for bad files
        raise DataError(f"imagefolder: cannot decode {path} ({type(e).__name__}: {e})") from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()
