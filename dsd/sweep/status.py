"""``dsd status``: how far a run is, read from its records alone (safe while it runs); the ETA
divides what is left by the rate at which the running driver has finished models."""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dsd.errors import DsdError
from dsd.sweep.folder import RunFolder


@dataclass(frozen=True)
class RunStatus:
    """Counts of a run's models by state, where it trains, and an estimate of the time left."""

    run_dir: Path
    total: int
    done: dict[str, int]  # status (ok / diverged / failed) -> models
    running: int
    pending: int
    retried: int  # failed attempts so far (retries included)
    rate: float | None  # models finished per second since the driver started
    driver: str | None  # who holds the run's lock, if anyone
    by_space: dict[str, tuple[int, int]]  # space -> (done, total)
    where: str = ""  # devices and workers of the latest driver
    resume: str = ""  # the command that resumes the run

    @property
    def eta_s(self) -> float | None:
        """Seconds until everything is done at the recent rate (None if unknown)."""
        left = self.running + self.pending
        if left == 0:
            return 0.0
        return left / self.rate if self.rate else None

    def describe(self) -> str:
        """A few lines for the terminal."""
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.done.items()))
        resume = f"run `{self.resume}` again" if self.resume else "run the same command again"
        eta = "unknown"
        if self.eta_s == 0:
            eta = "finished"
        elif self.eta_s is not None and self.driver:
            eta = f"{duration(self.eta_s)} ({self.rate * 60:.1f} models/min)"
        lines = [
            f"{self.run_dir}: {self.total} models",
            f"  done     {sum(self.done.values()):6d}" + (f"  ({parts})" if parts else ""),
            f"  running  {self.running:6d}",
            f"  pending  {self.pending:6d}",
            f"  failed attempts {self.retried}",
            f"  driver   {self.driver or f'none ({resume} to resume)'}",
            *([f"  workers  {self.where}"] if self.where else []),
            f"  ETA      {eta}",
            "  by space",
            *(f"    {s:<20} {done:6d} / {n} done" for s, (done, n) in self.by_space.items()),
        ]
        return "\n".join(lines)


def duration(seconds: float) -> str:
    """``2d 03h``, ``1h 02m``, ``3m 20s``, ``12s``."""
    s = round(seconds)
    if s >= 86400:
        return f"{s // 86400}d {s % 86400 // 3600:02d}h"
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


def _rate(finish_times: list[float], since: float) -> float | None:
    """Models per second finished since the driver started (None before the first one)."""
    now = time.time()
    n = sum(1 for t in finish_times if t >= since)
    if not n or not now > since:
        return None
    return n / (now - since)


def _resume_command(folder: RunFolder, info: dict) -> str:
    """The command that resumes the run: stored by its driver, else guessed (dsd < 0.2)."""
    if info.get("resume"):
        return str(info["resume"])
    with contextlib.suppress(DsdError):
        doc = folder.stored_experiment()
        if doc is not None:
            return f"dsd run {doc.get('source') or doc.get('name')} -o {folder.root}"
    if folder.root.name.endswith(".run"):
        return f"dsd train SAMPLES -o {folder.root.with_name(folder.root.name[:-4])}"
    return ""


def run_status(run_dir: str | os.PathLike) -> RunStatus:
    """The status of the run in ``run_dir``."""
    folder = RunFolder.at(run_dir)
    tasks = folder.read_task_list()
    if tasks is None:
        holder = folder.driver()
        if holder:
            raise DsdError(f"{run_dir}: the run is starting (driver {holder[0]}); try again soon")
        raise DsdError(
            f"{run_dir}: not a dsd run directory (no {folder.task_list.name}; start it with "
            "`dsd run` or `dsd train`)"
        )
    records = {t: folder.read_record(t) for t in folder.listed_ids() & set(tasks)}  # once each
    done_ids = {t for t, rec in records.items() if rec is not None}
    statuses = Counter(str(records[t]["status"]) for t in tasks if t in done_ids)
    finished = []
    for t in done_ids:
        with contextlib.suppress(FileNotFoundError):
            finished.append(folder.record_path(t).stat().st_mtime)
    running = len(folder.live_claims() - done_ids)
    holder = folder.driver()
    by_space: dict[str, tuple[int, int]] = {}
    for t in tasks:  # task ids are <space>-<index>-<model>-s<seed>
        space = t.rsplit("-", 3)[0]
        done, total = by_space.get(space, (0, 0))
        by_space[space] = (done + (t in done_ids), total + 1)
    info = folder.read_info()
    return RunStatus(
        run_dir=Path(run_dir),
        total=len(tasks),
        done=dict(statuses),
        running=running,
        pending=len(tasks) - sum(statuses.values()) - running,
        retried=folder.all_attempts(),
        rate=_rate(finished, holder[1]) if holder else None,
        driver=holder[0] if holder else None,
        by_space=by_space,
        where=str(info.get("where", "")),
        resume=_resume_command(folder, info),
    )
