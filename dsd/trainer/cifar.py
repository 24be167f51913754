"""CIFAR-10's python version (:data:`CIFAR10_URL`): find it (torchvision's root, the batches'
folder, or the archive read in place), read it with an unpickler that admits only numpy arrays
(a hostile ``--data`` file cannot run code), download it (resumed, MD5-checked, atomic).
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import pickle
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dsd.errors import DataError

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
UNPACKED = (*BATCHES, "batches.meta", "readme.html")
_WHERE = f"data_batch_1..5 and test_batch, a {FOLDER}/ folder, or {ARCHIVE}"
_CHUNK = 1 << 20
_NUMPY_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    *(
        (m, n)
        for m in ("numpy.core.multiarray", "numpy._core.multiarray")
        for n in ("_reconstruct", "scalar")
    ),
    *((m, "_frombuffer") for m in ("numpy.core.numeric", "numpy._core.numeric")),
}


def cifar10_source(path: str | os.PathLike) -> Path:
    """The folder or archive to read CIFAR-10 from; DataError naming ``path`` if it is neither."""
    p = Path(path).expanduser()
    if p.is_file():
        if not tarfile.is_tarfile(p):
            raise DataError(f"cifar10: {p} is a file but not a tar archive (expected {_WHERE})")
        return p
    if not p.is_dir():
        raise DataError(f"cifar10: {p} is not a readable directory (expected {_WHERE})")
    if any((p / name).exists() for name in BATCHES):
        return p
    for candidate in (p / FOLDER, p / ARCHIVE):
        if candidate.exists():
            return candidate
    return p  # the batches are missing: reading names the first one


class _NumpyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists and numpy arrays only; any other global is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _NUMPY_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        if module.startswith("numpy.core."):  # numpy 2 moved it; the old name warns
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)


def parse_batch(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> (uint8 N x 3 x 32 x 32, int64 labels); DataError naming ``where``."""
    try:
        d = _NumpyUnpickler(io.BytesIO(data), encoding="bytes").load()
        d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
        x = np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).copy()
        labels = np.asarray(d["labels"], dtype=np.int64).reshape(-1)
    except Exception as e:  # corrupt pickle, a refused global, wrong keys, wrong sizes
        raise DataError(
            f"cifar10: {where} is not a CIFAR-10 batch ({type(e).__name__}: {e})"[:400]
        ) from None
    if len(labels) != len(x) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise DataError(
            f"cifar10: {where} has {len(labels)} labels for {len(x)} images, or labels outside 0..9"
        )
    return x, labels


def _tar_files(archive: Path, names: tuple[str, ...]) -> Iterator[tuple[str, bytes]]:
    """``(base name, bytes)`` of every file in the archive whose base name is in ``names``."""
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if member.isfile() and name in names:
                yield name, tar.extractfile(member).read()  # type: ignore[union-attr]


def read_cifar10(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every batch of CIFAR-10 found at ``path`` (:func:`cifar10_source`) by name."""
    src = cifar10_source(path)
    if src.is_file():
        raw: dict[str, bytes] = {}
        try:
            for name, data in _tar_files(src, BATCHES):
                raw.setdefault(name, data)
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DataError(f"cifar10: cannot read the archive {src} ({e})") from None
        missing = [n for n in BATCHES if n not in raw]
        if missing:
            raise DataError(f"cifar10: the archive {src} has no {missing[0]} (expected {_WHERE})")
        return {n: parse_batch(raw[n], f"{src}:{n}") for n in BATCHES}
    out = {}
    for name in BATCHES:
        file = src / name
        if not file.is_file():
            raise DataError(f"cifar10: missing {file} (expected {_WHERE})")
        try:
            data = file.read_bytes()
        except OSError as e:
            raise DataError(f"cifar10: cannot read {file} ({e.strerror or e})") from None
        out[name] = parse_batch(data, str(file))
    return out


def md5_of(path: Path) -> str:
    """The MD5 hex digest of a file, read in chunks."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _open(url: str, start: int, timeout: float):
    """The response to a GET of ``url`` from byte ``start`` (None: nothing after it)."""
    headers = {"User-Agent": "dsd", **({"Range": f"bytes={start}-"} if start else {})}
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:  # nothing after ``start``: the partial file is complete
            return None
        raise DataError(f"cannot download {url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise DataError(
            f"cannot download {url}: {reason} (check the network, or give a mirror with --url)"
        ) from None


def _read(resp, url: str) -> bytes:
    """The next chunk of a download (DataError, with how to resume, if the connection broke)."""
    try:
        return resp.read(_CHUNK)
    except (OSError, http.client.HTTPException) as e:
        raise DataError(
            f"download of {url} was interrupted ({type(e).__name__}); run the same command again "
            "to resume"
        ) from None


def fetch(url: str, part: Path, *, progress: bool = True, timeout: float = 60) -> None:
    """Download ``url`` into ``part``, resuming from its size; DataError if the transfer fails or
    ends early (the partial file stays for the next try)."""
    start = part.stat().st_size if part.exists() else 0
    resp = _open(url, start, timeout)
    if resp is None:
        return
    with resp:
        if start and resp.status != 206:  # the server ignored the Range: start again
            start = 0
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        shown = dict(desc=part.name.removesuffix(".part"), file=sys.stderr, disable=not progress)
        bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, **shown)
        with bar, open(part, "ab" if start else "wb") as f:
            while chunk := _read(resp, url):
                f.write(chunk)
                bar.update(len(chunk))
    got = part.stat().st_size
    if total is not None and got < total:
        raise DataError(
            f"download of {url} stopped at {got:,} of {total:,} bytes; run the same command "
            "again to resume"
        )


def _unpack(archive: Path, root: Path) -> Path:
    """Unpack the archive's files into ``root/cifar-10-batches-py`` through a temporary folder
    renamed when complete."""
    folder = root / FOLDER
    if folder.exists():
        missing = [n for n in BATCHES if not (folder / n).is_file()]
        if missing:
            raise DataError(
                f"cifar10: {folder} exists but has no {missing[0]}; remove it and run again"
            )
        return folder
    tmp = Path(tempfile.mkdtemp(prefix=f".{FOLDER}.", dir=root))
    try:
        for name, data in _tar_files(archive, UNPACKED):
            (tmp / name).write_bytes(data)
        os.rename(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def download_cifar10(
    root: str | os.PathLike,
    *,
    url: str = CIFAR10_URL,
    md5: str = CIFAR10_MD5,
    progress: bool = True,
    unpack: bool = True,
) -> Path:
    """Download CIFAR-10 into ``root`` (torchvision's layout); return what to give ``--data``.
    A checksum other than ``md5`` moves the file to ``.bad`` and raises DataError."""
    root, md5 = Path(root).expanduser(), md5.lower()
    root.mkdir(parents=True, exist_ok=True)
    final, part, bad = root / ARCHIVE, root / f"{ARCHIVE}.part", root / f"{ARCHIVE}.bad"
    if not (final.is_file() and md5_of(final) == md5):
        fetch(url, part, progress=progress)
        digest = md5_of(part)
        if digest != md5:
            os.replace(part, bad)
            raise DataError(
                f"{url}: MD5 {digest} is not the published {md5}; the file is kept aside as {bad} "
                "and not used (run again, or try another mirror with --url)"
            )
        os.replace(part, final)
    try:
        return _unpack(final, root) if unpack else final
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(f"cifar10: cannot unpack {final} ({e})") from None
