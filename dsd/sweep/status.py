"""``dsd status``: how far a run is, read from its records alone (safe while it runs).

Done models have a record (ok / diverged / failed), running ones a live claim, the rest are
pending. The ETA divides what is left by the rate at which the running driver has finished models.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dsd.errors import DsdError
from dsd.sweep.driver import PLAN, read_plan
from dsd.sweep.store import LOCK, RunStore


@dataclass(frozen=True)
class RunStatus:
    """Counts of a run's models by state, and an estimate of the time left."""

    run_dir: Path
    total: int
    done: dict[str, int]  # status (ok / diverged / failed) -> models
    running: int
    pending: int
    retried: int  # failed attempts so far (retries included)
    rate: float | None  # models finished per second since the driver started
    driver: str | None  # who holds the run's lock, if anyone
    by_space: dict[str, tuple[int, int]]  # space -> (done, total)

    @property
    def eta_s(self) -> float | None:
        """Seconds until everything is done at the recent rate (None if unknown)."""
        left = self.running + self.pending
        if left == 0:
            return 0.0
        return left / self.rate if self.rate else None

    def describe(self) -> str:
        """A few lines for the terminal."""
        n_done = sum(self.done.values())
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.done.items()))
        lines = [f"{self.run_dir}: {self.total} models"]
        lines.append(f"  done     {n_done:6d}" + (f"  ({parts})" if parts else ""))
        lines.append(f"  running  {self.running:6d}")
        lines.append(f"  pending  {self.pending:6d}")
        lines.append(f"  failed attempts {self.retried}")
        lines.append(f"  driver   {self.driver or 'none (run `dsd run` again to resume)'}")
        if self.eta_s == 0:
            lines.append("  ETA      finished")
        elif self.eta_s is not None and self.driver:
            lines.append(f"  ETA      {_duration(self.eta_s)} ({self.rate * 60:.1f} models/min)")
        else:
            lines.append("  ETA      unknown")
        lines.append("  by space")
        for space, (done, total) in self.by_space.items():
            lines.append(f"    {space:<20} {done:6d} / {total} done")
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    """``1h 02m`` / ``3m 20s`` / ``12s``."""
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


def lock_holder(run_dir: Path) -> tuple[str, float] | None:
    """Who holds the run's driver lock and since when (epoch s), or None.

    Peeks with a shared lock held for microseconds (a starting driver waits that out).
    """
    path = run_dir / LOCK
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:  # a driver holds it
            holder = os.read(fd, 4096).decode(errors="replace").strip() or "unknown"
            return holder, os.fstat(fd).st_mtime  # the driver writes the file when it starts
        return None
    finally:
        os.close(fd)


def _rate(finish_times: list[float], since: float) -> float | None:
    """Models per second finished since the driver started (None before the first one)."""
    now = time.time()
    n = sum(1 for t in finish_times if t >= since)
    if not n or not now > since:
        return None
    return n / (now - since)


def run_status(run_dir: str | os.PathLike) -> RunStatus:
    """The status of the run in ``run_dir``."""
    run_dir = Path(run_dir)
    tasks = read_plan(run_dir)
    if tasks is None:
        holder = lock_holder(run_dir) if run_dir.is_dir() else None
        if holder:
            raise DsdError(f"{run_dir}: the run is starting (driver {holder[0]}); try again soon")
        raise DsdError(f"{run_dir}: not a dsd run directory (no {PLAN}; start it with `dsd run`)")
    store = RunStore(run_dir.resolve())
    records = {t: store.read_record(t) for t in store.listed_ids() & set(tasks)}  # each read once
    done_ids = {t for t, rec in records.items() if rec is not None}
    statuses: Counter[str] = Counter()
    finished = []
    for t in tasks:
        if t in done_ids:
            statuses[str(records[t]["status"])] += 1
            with contextlib.suppress(FileNotFoundError):
                finished.append(store.record_path(t).stat().st_mtime)
    running = len(store.live_claims() - done_ids)
    holder = lock_holder(run_dir)
    by_space: dict[str, tuple[int, int]] = {}
    for t in tasks:  # task ids are <space>-<index>-<model>-s<seed>
        done, total = by_space.get(t.rsplit("-", 3)[0], (0, 0))
        by_space[t.rsplit("-", 3)[0]] = (done + (t in done_ids), total + 1)
    attempts = len(os.listdir(run_dir / "attempts")) if (run_dir / "attempts").is_dir() else 0
    return RunStatus(
        run_dir=run_dir,
        total=len(tasks),
        done=dict(statuses),
        running=running,
        pending=len(tasks) - sum(statuses.values()) - running,
        retried=attempts,
        rate=_rate(finished, holder[1]) if holder else None,
        driver=holder[0] if holder else None,
        by_space=by_space,
    )
