"""The run directory: the only state a sweep has, kept as small files that survive any crash.

Layout of ``RUN_DIR``::

    experiment.yaml        the experiment as run (a resume checks it has not changed)
    samples.parquet        the plan: every sampled model of every space
    plan.json              the task ids of the plan (a resume checks they have not changed)
    records/<task>.json    one final record per finished model (ok / diverged / failed)
    attempts/<task>.<n>    one file per failed attempt (the retry counter survives crashes)
    claims/<task>.json     "being trained by host/pid/job"; its mtime is the heartbeat
    driver.lock            held (flock) by the one driver working on this directory
    results.parquet        all records, collected (idempotent: same records, same file)

Every file is written to a temporary name in the same directory and moved into place with
``os.replace``, so a reader sees the old file or the new one, never half of one, however many
workers write at once and wherever the writer is killed. A record is written before its claim is
removed: a model with a record is done, whatever else lies around.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsd import io
from dsd.errors import DsdError
from dsd.schema import STATUSES

RECORDS = "records"
ATTEMPTS = "attempts"
CLAIMS = "claims"
LOCK = "driver.lock"
SAMPLES = "samples.parquet"
RESULTS = "results.parquet"
EXPERIMENT = "experiment.yaml"
DAMAGED = ".damaged"  # suffix of a record set aside because it could not be read


def plain(obj: Any) -> Any:
    """Convert numpy/pandas scalars and arrays inside ``obj`` to plain JSON-able Python."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return plain(obj.tolist())
    if isinstance(obj, float) and math.isnan(obj):
        return float("nan")
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (see :func:`dsd.io.atomic_path`)."""
    io.write_json_atomic(path, plain(data))


def read_json(path: Path) -> dict | None:
    """Read a JSON object written by :func:`write_json_atomic`; None if absent or damaged.

    Damaged means: empty, truncated, not UTF-8, not JSON, or JSON that is not an object.
    """
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (
        FileNotFoundError,
        IsADirectoryError,
        ValueError,
    ):  # JSON/Unicode errors are ValueErrors
        return None
    return data if isinstance(data, dict) else None


def valid_record(record: dict | None) -> bool:
    """Whether ``record`` is a usable final record (a JSON object with a known status)."""
    return record is not None and record.get("status") in STATUSES


@dataclass(frozen=True)
class Owner:
    """Who trains a model: host, process and (on Slurm) job; written into its claim."""

    host: str
    pid: int
    job: str = ""

    @staticmethod
    def here() -> Owner:
        """The current process (with its Slurm job id, if any)."""
        job = os.environ.get("SLURM_ARRAY_JOB_ID", "")
        if job:
            job = f"{job}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"
        else:
            job = os.environ.get("SLURM_JOB_ID", "")
        return Owner(socket.gethostname(), os.getpid(), job)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False


@dataclass(frozen=True)
class RunStore:
    """Reads and writes one run directory's records, attempts and claims."""

    root: Path
    stale_s: float = 60.0  # a claim whose heartbeat is older than this is abandoned

    @staticmethod
    def open(root: str | os.PathLike, stale_s: float = 60.0) -> RunStore:
        """The store at ``root``, creating its folders if needed."""
        root = Path(root).resolve()
        for sub in (RECORDS, ATTEMPTS, CLAIMS):
            (root / sub).mkdir(parents=True, exist_ok=True)
        return RunStore(root, stale_s)

    # -- records -----------------------------------------------------------------------
    def record_path(self, task_id: str) -> Path:
        """Where the final record of ``task_id`` lives."""
        return self.root / RECORDS / f"{task_id}.json"

    def has_record(self, task_id: str) -> bool:
        """Whether ``task_id`` is finished (its record exists and is readable)."""
        return self.read_record(task_id) is not None

    def write_record(self, task_id: str, record: Mapping) -> None:
        """Store the final record of ``task_id`` atomically."""
        write_json_atomic(self.record_path(task_id), dict(record))

    def read_record(self, task_id: str) -> dict | None:
        """The final record of ``task_id``, or None (absent or damaged)."""
        record = read_json(self.record_path(task_id))
        return record if valid_record(record) else None

    def listed_ids(self) -> set[str]:
        """The ids of all tasks with a record file, readable or not (one directory listing)."""
        names = os.listdir(self.root / RECORDS)
        return {n[:-5] for n in names if n.endswith(".json") and not n.startswith(".")}

    def done_ids(self) -> set[str]:
        """The ids of all finished tasks: a record file that reads as a final record."""
        return {t for t in self.listed_ids() if self.read_record(t) is not None}

    def set_aside_damaged(self, task_ids: list[str]) -> list[str]:
        """Rename unreadable records of ``task_ids`` to ``<task>.json.damaged`` (kept for a look,
        no longer counted as done, so the model is trained again); return their ids.

        A record is damaged when it is empty, truncated, not JSON or has no known status: a disk
        that filled up or a file edited by hand. Counting it as done would lose the model.
        """
        damaged = []
        for t in sorted(self.listed_ids() & set(task_ids)):
            path = self.record_path(t)
            if self.read_record(t) is None and path.exists():
                os.replace(path, path.with_name(path.name + DAMAGED))
                damaged.append(t)
        if damaged:
            print(
                f"dsd: warning: {len(damaged)} damaged record(s) in {self.root / RECORDS} set aside "
                f"as *.json{DAMAGED} and trained again (first: {damaged[0]})",
                file=sys.stderr,
            )
        return damaged

    def remove_record(self, task_id: str) -> None:
        """Forget a record and its attempts (used to retry failed models on request)."""
        with contextlib.suppress(FileNotFoundError):
            self.record_path(task_id).unlink()
        for p in (self.root / ATTEMPTS).glob(f"{task_id}.*"):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    def sweep_temp(self, older_than_s: float) -> int:
        """Delete temporary files a killed writer left behind; return how many."""
        n, now = 0, time.time()
        for sub in (RECORDS, CLAIMS):
            for p in (self.root / sub).glob(".*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    if now - p.stat().st_mtime > older_than_s:
                        p.unlink()
                        n += 1
        return n

    # -- attempts ----------------------------------------------------------------------
    def attempts(self, task_id: str) -> int:
        """How many attempts of ``task_id`` have failed so far."""
        return sum(1 for _ in (self.root / ATTEMPTS).glob(f"{task_id}.*"))

    def add_attempt(self, task_id: str, reason: str) -> int:
        """Record one failed attempt; return the number of failed attempts now."""
        d = self.root / ATTEMPTS
        n = self.attempts(task_id)
        while True:
            n += 1
            try:
                fd = os.open(d / f"{task_id}.{n}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w") as f:
                f.write(reason)
            return n

    # -- claims ------------------------------------------------------------------------
    def claim_path(self, task_id: str) -> Path:
        """Where the claim of ``task_id`` lives."""
        return self.root / CLAIMS / f"{task_id}.json"

    def claim_is_live(self, task_id: str, claim: dict | None = None) -> bool:
        """Whether someone is training ``task_id`` now (claim present, owner alive, fresh)."""
        path = self.claim_path(task_id)
        claim = claim if claim is not None else read_json(path)
        if claim is None:
            return False
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return False
        if age > self.stale_s:
            return False
        if claim.get("host") == socket.gethostname() and not claim.get("job"):
            pid = claim.get("pid")
            return isinstance(pid, int) and not isinstance(pid, bool) and _pid_alive(pid)
        return True

    def try_claim(self, task_id: str, owner: Owner) -> bool:
        """Claim ``task_id`` for ``owner``; False if another live owner holds it."""
        path = self.claim_path(task_id)
        data = {"host": owner.host, "pid": owner.pid, "job": owner.job, "since": time.time()}
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            old = read_json(path) or {}
            same_job = bool(owner.job) and old.get("job") == owner.job  # a requeued Slurm job
            if not same_job and self.claim_is_live(task_id, old):
                return False
            write_json_atomic(path, data)  # take over an abandoned claim ...
            time.sleep(0.05)
            return read_json(path) == data  # ... unless another taker wrote after us
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
        except BaseException:  # e.g. a full disk: leave no empty claim behind
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            raise
        return True

    def release(self, task_id: str) -> None:
        """Remove the claim of ``task_id``."""
        with contextlib.suppress(FileNotFoundError):
            self.claim_path(task_id).unlink()

    def heartbeat(self, task_id: str) -> None:
        """Refresh the claim of ``task_id`` (touch its mtime)."""
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.claim_path(task_id))

    def live_claims(self) -> set[str]:
        """The ids of tasks someone is training now."""
        names = [n for n in os.listdir(self.root / CLAIMS) if n.endswith(".json")]
        ids = (n[:-5] for n in names if not n.startswith("."))
        return {t for t in ids if self.claim_is_live(t)}


class RunLock:
    """The driver's exclusive lock on a run directory (``flock``; released when the process dies).

    A second driver on the same directory, in another process or in this one, is refused with a
    :class:`DsdError` naming the holder. Nothing to clean up after a SIGKILL: the kernel drops
    the lock with the last descriptor (which child processes do not inherit).
    """

    def __init__(self, root: str | os.PathLike, wait_s: float = 1.0):
        self.path = Path(root) / LOCK
        self.wait_s = wait_s  # rides over `dsd status` peeking at the lock
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock or raise DsdError naming the driver that holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.time() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.time() < deadline:
                    time.sleep(0.05)
                    continue
                holder = os.read(fd, 4096).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise DsdError(
                    f"run directory {self.path.parent} is in use by another driver ({holder}); "
                    "wait for it to finish or stop it, then run again to resume"
                ) from None
        os.ftruncate(fd, 0)
        # the file's mtime (now) tells `dsd status` when this driver started
        info = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}"
        os.pwrite(fd, info.encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def iter_records(store: RunStore, task_ids: list[str]) -> Iterator[dict]:
    """The records of ``task_ids`` that exist, in that order."""
    for t in task_ids:
        rec = store.read_record(t)
        if rec is not None:
            yield rec
