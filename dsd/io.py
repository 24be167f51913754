"""Reading and writing dsd's artefacts (samples, results) as plain files, atomically.

Atomic means: the file at ``path`` is either the old complete file or the new complete file,
never a partial one. We write to a temporary file in the same directory, flush and fsync it,
then ``os.replace`` it over the target (atomic on POSIX within one file system).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from dsd.errors import DataError, DsdError

TABLE_SUFFIXES = (".parquet", ".csv", ".json")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path`` atomically.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise DsdError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise DsdError(f"cannot write {path}: directory {parent} is not writable")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def check_output_path(path: str | os.PathLike, suffixes: tuple[str, ...] = TABLE_SUFFIXES) -> Path:
    """Validate an output path before any work is done (fail fast, leave nothing behind)."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise DsdError(
            f"output {path}: unsupported extension {path.suffix!r} (use one of {', '.join(suffixes)})"
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise DsdError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise DsdError(f"cannot write {path}: directory {parent} is not writable")
    if path.is_dir():
        raise DsdError(f"cannot write {path}: it is a directory")
    return path


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` atomically as parquet, csv or json lines, chosen by the extension."""
    path = check_output_path(path)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        elif suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_json(tmp, orient="records", lines=True)
    return path


def read_table(path: str | os.PathLike, *, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a samples/results table; raise :class:`DataError` naming the problem if unusable."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a .parquet/.csv/.json file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            df = pd.read_parquet(path)
        elif suffix == ".csv":
            df = pd.read_csv(path)
        elif suffix == ".json":
            df = pd.read_json(path, orient="records", lines=True)
        else:
            raise DataError(
                f"{path}: unsupported extension {suffix!r} (use .parquet, .csv or .json)"
            )
    except DataError:
        raise
    except Exception as e:  # pyarrow/pandas raise many types for a corrupt file
        raise DataError(
            f"{path}: not a readable {suffix[1:]} table ({type(e).__name__}: {e})".splitlines()[0]
        ) from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; is this a dsd file?")
    from dsd.schema import upgrade

    return upgrade(df, str(path))
