"""The run folder: every file of one sweep, its lock and its atomic writes, in one class.

Every file is written to a temporary name and moved into place (:func:`dsd.io.atomic_path`), so a
reader never sees half of one; a record is written before its claim is removed, so a model with a
record is done, whatever else lies around.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from dsd.errors import DsdError
from dsd.io import (
    LockBusy,
    hold_lock,
    load_yaml,
    lock_holder,
    read_table,
    write_json_atomic,
    write_table,
    write_text_atomic,
)
from dsd.schema import record_problem

DAMAGED = ".damaged"  # suffix of a record set aside because it is not a final record
OLD_TASK_LIST = "plan.json"  # the task list's name in run folders of dsd < 0.2


def read_json(path: Path) -> dict | None:
    """A JSON object written by :func:`dsd.io.write_json_atomic`; None if absent or damaged."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (FileNotFoundError, IsADirectoryError, ValueError):  # JSON/Unicode errors: ValueError
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Owner:
    """Who trains a model: host, process and (on Slurm) job; written into its claim."""

    host: str
    pid: int
    job: str = ""

    @staticmethod
    def here() -> Owner:
        """The current process (with its Slurm job id, if any)."""
        env = os.environ
        array, task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID", "")
        job = f"{array}_{task}" if array else env.get("SLURM_JOB_ID", "")
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
class RunFolder:
    """One run folder: its paths, lock, task list, records, attempts and claims (picklable)."""

    root: Path
    stale_s: float = 60.0  # a claim whose heartbeat is older than this is abandoned

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def at(cls, path: str | os.PathLike | RunFolder, stale_s: float = 60.0) -> RunFolder:
        """The run folder at ``path``; an empty name is refused (``Path("")`` would be ``.``)."""
        if isinstance(path, RunFolder):
            path = path.root
        if not str(path).strip():
            raise DsdError("run folder: empty name (give -o RUN_DIR)")
        return cls(Path(path), stale_s)

    # -- paths (the only code that spells them) ------------------------------------------
    experiment = property(lambda self: self.root / "experiment.yaml")  # dsd run's, fingerprinted
    info_file = property(lambda self: self.root / "run.json")  # how to resume, where it trains
    samples = property(lambda self: self.root / "samples.parquet")
    task_list = property(lambda self: self.root / "tasks.json")  # dsd < 0.2: plan.json
    records = property(lambda self: self.root / "records")  # <task>.json: final records
    attempts_dir = property(lambda self: self.root / "attempts")  # <task>.<n>: failed attempts
    claims = property(lambda self: self.root / "claims")  # <task>.json; mtime is the heartbeat
    lock_file = property(lambda self: self.root / "driver.lock")  # flock of the one driver
    results = property(lambda self: self.root / "results.parquet")
    report = property(lambda self: self.root / "report.html")  # written by dsd.pipeline
    slurm_logs = property(lambda self: self.root / "slurm")  # submitit's job folders

    def record_path(self, task_id: str) -> Path:
        """Where the final record of ``task_id`` lives."""
        return self.records / f"{task_id}.json"

    def claim_path(self, task_id: str) -> Path:
        """Where the claim of ``task_id`` lives."""
        return self.claims / f"{task_id}.json"

    # -- the folder itself ---------------------------------------------------------------
    def check_path(self) -> None:
        """DsdError unless the folder exists or could be created (checked before any work)."""
        if self.root.exists() and not self.root.is_dir():
            raise DsdError(f"{self.root}: exists and is not a directory")
        if len(self.root.name.encode(errors="surrogateescape")) > 200:
            raise DsdError(f"{self.root.name[:40]}...: run folder name longer than 200 bytes")
        parent = next((p for p in self.root.absolute().parents if p.exists()), Path("/"))
        if not self.root.exists() and not os.access(parent, os.W_OK | os.X_OK):
            raise DsdError(f"cannot create {self.root}: {parent} is not writable")

    def create(self) -> RunFolder:
        """Create the folder and its subfolders (only after the checks passed)."""
        for sub in (self.records, self.attempts_dir, self.claims):
            sub.mkdir(parents=True, exist_ok=True)
        return self

    @contextlib.contextmanager
    def lock(self, wait_s: float = 1.0) -> Iterator[RunFolder]:
        """Hold the driver lock (``wait_s`` rides over ``dsd status`` peeking at it); DsdError
        naming the driver that holds it."""
        try:
            with hold_lock(self.lock_file, wait_s=wait_s, keep=True):
                yield self
        except LockBusy as e:
            raise DsdError(
                f"run directory {self.root} is in use by another driver ({e.holder}); "
                "wait for it to finish or stop it, then run again to resume"
            ) from None

    def driver(self) -> tuple[str, float] | None:
        """Who holds the driver lock and since when (epoch s), or None."""
        return lock_holder(self.lock_file) if self.root.is_dir() else None

    # -- the task list, the samples, the experiment, the run's info -------------------------
    def has_task_list(self) -> bool:
        """Whether the folder has a task list file (readable or not)."""
        return self.task_list.exists() or (self.root / OLD_TASK_LIST).exists()

    def read_task_list(self) -> list[str] | None:
        """The task ids; None if there is no task list; DsdError if it is damaged."""
        path = self.task_list if self.task_list.exists() else self.root / OLD_TASK_LIST
        if not path.exists():
            return None
        doc = read_json(path)
        tasks = doc.get("tasks") if doc is not None else None
        if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
            raise DsdError(
                f"{path} is damaged (not a JSON object with a list of task ids); the command "
                "that started the run rebuilds it from samples.parquet"
            )
        return tasks

    def write_task_list(self, task_ids: Sequence[str]) -> None:
        """Store the task list."""
        write_json_atomic(self.task_list, {"tasks": list(task_ids)})

    def read_samples(self) -> pd.DataFrame:
        """The run's samples."""
        return read_table(self.samples, required=("model_id", "space"))

    def write_samples(self, samples: pd.DataFrame) -> None:
        """Store the run's samples."""
        write_table(samples, self.samples)

    def read_info(self) -> dict:
        """``run.json`` ({} when absent or damaged: it only informs ``dsd status``)."""
        return read_json(self.info_file) or {}

    def write_info(self, info: Mapping[str, Any]) -> None:
        """Store ``run.json``."""
        write_json_atomic(self.info_file, dict(info))

    def stored_experiment(self) -> dict | None:
        """The experiment the run was started with ({name, source, fingerprint, ...}) or None; a
        damaged file counts as absent while the run has no records, else DsdError."""
        if not self.experiment.exists():
            return None
        with contextlib.suppress(DsdError):
            doc = load_yaml(self.experiment)
            if isinstance(doc, dict) and isinstance(doc.get("fingerprint", doc.get("plan")), dict):
                return {**doc, "fingerprint": doc.get("fingerprint", doc.get("plan"))}
        if self.records.is_dir() and any(self.records.glob("*.json")):
            raise DsdError(
                f"{self.experiment} is damaged and the run has records; restore the file or use "
                "a new run directory"
            )
        return None

    def write_experiment(self, doc: Mapping[str, Any]) -> None:
        """Store the experiment (warning if a damaged one is replaced)."""
        if self.experiment.exists():
            print(f"dsd: warning: {self.experiment} was damaged; written again", file=sys.stderr)
        write_text_atomic(self.experiment, yaml.safe_dump(dict(doc), sort_keys=False))

    # -- records -----------------------------------------------------------------------------
    def read_record(self, task_id: str) -> dict | None:
        """The final record of ``task_id``; None if absent or not final (``record_problem``)."""
        record = read_json(self.record_path(task_id))
        return record if record is not None and not record_problem(record) else None

    def write_record(self, task_id: str, record: Mapping) -> None:
        """Store the final record of ``task_id`` atomically."""
        write_json_atomic(self.record_path(task_id), dict(record))

    def record_status(self, task_id: str) -> str:
        """The status of ``task_id``'s record ('' if it has no final record)."""
        return str((self.read_record(task_id) or {}).get("status", ""))

    def listed_ids(self) -> set[str]:
        """The ids of all tasks with a record file, final or not (one directory listing)."""
        return _json_stems(self.records)

    def done_ids(self) -> set[str]:
        """The ids of all finished tasks (a record file that reads as a final record)."""
        return {t for t in self.listed_ids() if self.read_record(t) is not None}

    def iter_records(self, task_ids: Sequence[str]) -> Iterator[dict]:
        """The final records of ``task_ids`` that exist, in that order."""
        for t in task_ids:
            record = self.read_record(t)
            if record is not None:
                yield record

    def collect(self, task_ids: Sequence[str]) -> pd.DataFrame:
        """All final records in task-list order, written to ``results.parquet`` (idempotent)."""
        df = pd.DataFrame.from_records(list(self.iter_records(task_ids)))
        if len(df):
            write_table(df, self.results)
        return df

    def set_aside_damaged(self, task_ids: Sequence[str]) -> list[str]:
        """Rename the record files of ``task_ids`` that are not final records (a full disk, a
        hand edit) to ``<task>.json.damaged``, so they are trained again; return their ids."""
        damaged = []
        for t in sorted(self.listed_ids() & set(task_ids)):
            path = self.record_path(t)
            if self.read_record(t) is None and path.exists():
                os.replace(path, path.with_name(path.name + DAMAGED))
                damaged.append(t)
        if damaged:
            print(
                f"dsd: warning: {len(damaged)} damaged record(s) in {self.records} set aside "
                f"as *.json{DAMAGED} and trained again (first: {damaged[0]})",
                file=sys.stderr,
            )
        return damaged

    def remove_record(self, task_id: str) -> None:
        """Forget a record and its attempts (to retry a failed model on request)."""
        self.record_path(task_id).unlink(missing_ok=True)
        for p in self.attempts_dir.glob(f"{task_id}.*"):
            p.unlink(missing_ok=True)

    def sweep_temp(self, older_than_s: float) -> int:
        """Delete temporary files a killed writer left behind; return how many."""
        n, now = 0, time.time()
        for sub in (self.records, self.claims):
            for p in sub.glob(".*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    if now - p.stat().st_mtime > older_than_s:
                        p.unlink()
                        n += 1
        return n

    # -- attempts ------------------------------------------------------------------------------
    def attempts(self, task_id: str) -> int:
        """How many attempts of ``task_id`` have failed so far."""
        return sum(1 for _ in self.attempts_dir.glob(f"{task_id}.*"))

    def all_attempts(self) -> int:
        """Failed attempts of every task so far."""
        return len(os.listdir(self.attempts_dir)) if self.attempts_dir.is_dir() else 0

    def add_attempt(self, task_id: str, reason: str) -> int:
        """Record one failed attempt; return the number of failed attempts now."""
        n = self.attempts(task_id)
        while True:
            n += 1
            try:
                fd = os.open(
                    self.attempts_dir / f"{task_id}.{n}", os.O_CREAT | os.O_EXCL | os.O_WRONLY
                )
            except FileExistsError:
                continue
            with os.fdopen(fd, "w") as f:
                f.write(reason)
            return n

    # -- claims ----------------------------------------------------------------------------------
    def claim_is_live(self, task_id: str, claim: dict | None = None) -> bool:
        """Whether someone trains ``task_id`` now (claim present, owner alive, heartbeat fresh)."""
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
            path.unlink(missing_ok=True)
            raise
        return True

    def release(self, task_id: str) -> None:
        """Remove the claim of ``task_id``."""
        self.claim_path(task_id).unlink(missing_ok=True)

    def heartbeat(self, task_id: str) -> None:
        """Refresh the claim of ``task_id`` (touch its mtime)."""
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.claim_path(task_id))

    def live_claims(self) -> set[str]:
        """The ids of tasks someone trains now."""
        return {t for t in _json_stems(self.claims) if self.claim_is_live(t)}


def _json_stems(folder: Path) -> set[str]:
    """The names of the ``*.json`` files of ``folder`` without the suffix (temporaries skipped)."""
    names = os.listdir(folder) if folder.is_dir() else []
    return {n[:-5] for n in names if n.endswith(".json") and not n.startswith(".")}
