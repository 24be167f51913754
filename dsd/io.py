"""Reading and writing dsd's files safely: atomic writes (temporary file, fsync, os.replace),
checked tables, locks, and YAML read with limits on size, depth and alias expansion."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from dsd.errors import DataError, DsdError
from dsd.schema import check_table, upgrade

TABLE_SUFFIXES = (".parquet", ".csv", ".json")
# Limits of load_yaml: far above any real space or experiment file.
YAML_MAX_BYTES = 1 << 20
YAML_MAX_DEPTH = 64
YAML_MAX_NODES = 100_000  # after expanding every alias


def _file_mode() -> int:
    """The mode a plain open() gives new files here (0666 less the umask), read once."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()  # at import, before any thread exists (os.umask is process-wide)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path`` atomically
    (on any exception ``path`` is untouched; an OSError names ``path``)."""
    path = Path(path)
    try:
        tmp_path = _temporary(path)
    except OSError as e:  # name the file asked for, not the temporary one
        raise OSError(e.errno, e.strerror, str(path)) from None
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 less the umask).
        os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if isinstance(e, OSError) and e.filename is None:  # e.g. pyarrow's: name the file
            m = re.search(r"\[errno (\d+)\]", str(e), re.IGNORECASE)  # pyarrow: '[errno 28]'
            code = e.errno or (int(m.group(1)) if m else None)
            raise OSError(code, os.strerror(code) if code else str(e), str(path)) from e
        raise


def _temporary(path: Path) -> Path:
    """A new empty file beside ``path``, named after it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def check_output_path(path: str | os.PathLike, suffixes: tuple[str, ...] = TABLE_SUFFIXES) -> Path:
    """``path`` if it can be written, else DsdError, before any work is done."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise DsdError(
            f"output {path}: unsupported extension {path.suffix!r} (use one of {', '.join(suffixes)})"
        )
    parent = path.parent
    if not parent.is_dir():
        raise DsdError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise DsdError(f"cannot write {path}: directory {parent} is not writable")
    if path.is_dir():
        raise DsdError(f"cannot write {path}: it is a directory")
    try:  # what atomic_path will do (os.access says yes to root even on a read-only mount)
        probe = _temporary(path)
    except OSError as e:
        raise DsdError(f"cannot write {path}: {e.strerror or e}") from None
    probe.unlink()
    return path


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` atomically as parquet, csv or json lines, chosen by the extension."""
    path = check_output_path(path)
    suffix = path.suffix.lower()
    try:
        with atomic_path(path) as tmp:
            if suffix == ".parquet":
                with open(tmp, "wb") as f:  # an open file: pyarrow cannot encode every path
                    df.to_parquet(f, index=False)
            elif suffix == ".csv":
                _lists_as_json(df).to_csv(tmp, index=False)
            else:
                df.to_json(tmp, orient="records", lines=True)
    except UnicodeError:
        raise
    except (TypeError, ValueError) as e:  # pyarrow's: text and numbers in one column
        why = (str(e).splitlines() or [type(e).__name__])[0]
        raise DataError(
            f"cannot write {path}: a column holds values of mixed types ({why})"[:400]
        ) from None
    return path


def read_table(path: str | os.PathLike, *, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a samples/results table; raise :class:`DataError` naming the problem if unusable."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a .parquet/.csv/.json file")
    if not path.is_file():  # opening a FIFO would wait for a writer forever
        raise DataError(f"{path}: not a regular file (a pipe, socket or device), expected a table")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{path}: unsupported extension {suffix!r} (use .parquet, .csv or .json)")
    try:
        if suffix == ".parquet":
            with open(path, "rb") as f:  # an open file: pyarrow cannot encode every path
                df = pd.read_parquet(f)
        elif suffix == ".csv":
            df = pd.read_csv(path)
        else:
            df = pd.read_json(path, orient="records", lines=True)
    except Exception as e:  # pyarrow/pandas raise many types for a corrupt file
        raise DataError(
            f"{path}: not a readable {suffix[1:]} table ({type(e).__name__}: {e})".splitlines()[0]
        ) from None
    if suffix == ".csv":
        df = lists_from_json(df)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; is this a dsd file?")
    return upgrade(check_table(df, str(path)), str(path))


def is_list(v: Any) -> bool:
    """A list-like cell (list, tuple, numpy array)."""
    return isinstance(v, list | tuple) or (hasattr(v, "tolist") and getattr(v, "ndim", 0) > 0)


def _lists_as_json(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its list columns (per-stage depths, widths, ...) as JSON text, for CSV."""
    cols = [c for c in df.columns if df[c].dtype == object and df[c].map(is_list).any()]
    as_json = lambda v: json.dumps(v.tolist() if hasattr(v, "tolist") else list(v))  # noqa: E731
    return df.assign(**{c: df[c].map(lambda v: as_json(v) if is_list(v) else v) for c in cols})


def lists_from_json(df: pd.DataFrame) -> pd.DataFrame:
    """The inverse of :func:`_lists_as_json`: columns whose every present value is a JSON list
    become list columns (missing cells stay missing)."""

    def is_list_text(v: Any) -> bool:
        return isinstance(v, str) and v.startswith("[") and v.endswith("]")

    out = {}
    for c in df.columns:
        col = df[c]
        text = col.dtype == object or pd.api.types.is_string_dtype(col)
        present = col.dropna()
        if not text or not len(present) or not present.map(is_list_text).all():
            continue
        try:
            out[c] = col.map(lambda v: json.loads(v) if isinstance(v, str) else v).astype(object)
        except ValueError:
            continue  # text that only looks like a list: leave it as text
    return df.assign(**out) if out else df


class LockBusy(DsdError):
    """Another process holds a lock; ``holder`` is what it wrote into the lock file."""

    def __init__(self, lock: Path, holder: str):
        super().__init__(f"{lock} is held by {holder}")
        self.lock, self.holder = lock, holder


def _try_flock(fd: int, wait_s: float) -> bool:
    """Take an exclusive flock on ``fd``, retrying for up to ``wait_s`` seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


@contextlib.contextmanager
def hold_lock(
    lock: str | os.PathLike, holder: str | None = None, *, wait_s: float = 0.0, keep: bool = False
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock`` with ``holder`` written in it (default: this
    process); LockBusy if another process still holds it after ``wait_s`` seconds.

    The kernel drops the lock with the process, so a SIGKILL leaves nothing to clean up. The file
    is removed on exit unless ``keep`` (a run folder's lock file: its mtime says when it started).
    """
    lock = Path(lock)
    if holder is None:
        holder = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}"
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_flock(fd, wait_s):
            text = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise LockBusy(lock, text)
        with contextlib.suppress(FileNotFoundError):  # the holder we waited for may have removed
            if keep or os.stat(lock).st_ino == os.fstat(fd).st_ino:  # it: lock the one now there
                break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, holder.encode(), 0)
    try:
        yield
    finally:
        if not keep:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)
        os.close(fd)


def lock_holder(lock: str | os.PathLike) -> tuple[str, float] | None:
    """What the holder of ``lock`` wrote and when it took the lock (epoch s), or None if free."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None
    except OSError:  # held
        holder = os.read(fd, 4096).decode(errors="replace").strip() or "unknown"
        return holder, os.fstat(fd).st_mtime  # written when the holder took the lock
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold the writer's lock of ``path`` (``.<name>.lock`` beside it); DsdError naming the holder
    if another process writes it."""
    path = Path(path)
    try:
        with hold_lock(path.with_name(f".{path.name}.lock"), f"{what} (pid {os.getpid()})"):
            yield
    except LockBusy as e:
        raise DsdError(f"{path} is being written by {e.holder}; wait for it to finish") from None


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def plain(obj: Any) -> Any:
    """``obj`` as plain JSON-able Python at any depth: dicts with str keys, lists for tuples and
    arrays, numbers for numpy scalars, ISO text for timestamps."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return plain(obj.tolist())
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` (converted by :func:`plain`) as JSON to ``path`` atomically; return it."""
    return write_text_atomic(path, json.dumps(plain(data)))


def _yaml_limits(text: str) -> str:
    """'' if ``text`` stays within the depth and alias-expansion limits, else the problem.

    Walks PyYAML's event stream (no objects built): a "billion laughs" file is a few hundred
    bytes and expands to billions of nodes.
    """
    sizes: dict[str, int] = {}  # anchor -> expanded node count
    stack: list[list] = [[None, 0]]  # [anchor, nodes so far] of each open collection
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([event.anchor, 0])
            if len(stack) - 1 > YAML_MAX_DEPTH:
                return f"nested deeper than {YAML_MAX_DEPTH} levels"
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, n = stack.pop()
            n += 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, n = None, sizes.get(event.anchor, 1)
        elif isinstance(event, yaml.ScalarEvent):
            anchor, n = event.anchor, 1
        else:
            continue
        if anchor is not None:
            sizes[anchor] = n
        stack[-1][1] += n
        if stack[-1][1] > YAML_MAX_NODES:
            return f"more than {YAML_MAX_NODES} values once aliases are expanded"
    return ""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML would keep the last
    silently); keys of a merge (``<<``) may be overridden."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                if (key.tag, key.value) in first:
                    why = f"duplicate key {key.value!r} (first at line {first[key.tag, key.value]})"
                    raise yaml.constructor.ConstructorError(
                        problem=why, problem_mark=key.start_mark
                    )
                first[(key.tag, key.value)] = key.start_mark.line + 1
        return super().construct_mapping(node, deep)


def load_yaml(path: str | os.PathLike, error: type[DsdError] = DsdError) -> Any:
    """Parse a user's YAML file within the ``YAML_MAX_*`` limits; ``error`` (one line naming the
    file and problem) for anything else: not UTF-8, a duplicate key, an OS error."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a FIFO would block the read; a folder: EISDIR
        raise error(f"{path}: not a regular file, expected a YAML file")
    try:
        with open(path, "rb") as f:
            raw = f.read(YAML_MAX_BYTES + 1)
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None
    if len(raw) > YAML_MAX_BYTES:
        raise error(f"{path}: larger than {YAML_MAX_BYTES >> 20} MiB; not a dsd YAML file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(
            f"{path}: not UTF-8 text (byte {raw[e.start]:#04x} at offset {e.start})"
        ) from None
    try:
        problem = _yaml_limits(text)
        if problem:
            raise error(f"{path}: refused: {problem}")
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no objects built
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(e, "problem", None) or (str(e).splitlines() or [type(e).__name__])[0]
        raise error(f"{path}: malformed YAML{where}: {what}"[:500]) from None


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (the same path, a symlink to it, or a hard link)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare the names as resolved
        return a.resolve() == b.resolve()


def distinct_inputs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """``paths`` as Paths; DsdError if two of them name one file (its rows would count twice)."""
    out: list[Path] = []
    for p in map(Path, paths):
        twin = next((q for q in out if _same_file(p, q)), None)
        if twin is not None:
            same = "given twice" if str(twin) == str(p) else f"the same file as {twin}"
            raise DsdError(f"{p}: {same}; give each input once")
        out.append(p)
    return out


def check_not_an_input(output: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> Path:
    """``output`` as a Path; DsdError if it names one of ``inputs`` (no command writes over a file
    it reads)."""
    output = Path(output)
    for p in map(Path, inputs):
        if _same_file(output, p):
            raise DsdError(f"{output}: is an input of this command ({p}); write to another file")
    return output
