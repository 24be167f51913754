"""A design folder: what ``dsd design`` keeps in ``DIR`` (docs/CONTRACTS.md), its lock, and
``dsd status DIR``. A resumed discovery reads its recorded decisions instead of deciding again.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsd.errors import DsdError
from dsd.io import LockBusy, hold_lock, lock_holder, plain, write_json_atomic
from dsd.sweep import RunFolder, run_status
from dsd.sweep.folder import read_json

PLAN = "design.json"


@dataclass(frozen=True)
class DesignFolder:
    """The design folder at ``root``: plan, lock, populations, spaces, steps, chain, report."""

    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike) -> DesignFolder:
        """The design folder at ``path``; DsdError for an empty name or a path that is a file."""
        if not str(path).strip():
            raise DsdError("design folder: empty name (give -o DIR)")
        RunFolder.at(path).check_path()
        return cls(Path(path))

    plan_file = property(lambda self: self.root / PLAN)
    lock_file = property(lambda self: self.root / "design.lock")
    spaces = property(lambda self: self.root / "spaces")
    steps = property(lambda self: self.root / "steps")
    chain = property(lambda self: self.root / "chain.csv")
    report = property(lambda self: self.root / "report.html")

    def population(self, label: str) -> RunFolder:
        """The run folder of the population ``label``."""
        return RunFolder.at(self.root / label)

    def space_file(self, name: str) -> Path:
        """Where the refined space ``name`` is written."""
        return self.spaces / f"{name}.yaml"

    def read_plan(self) -> dict | None:
        """The stored plan, None if there is none; DsdError if damaged."""
        if not self.plan_file.exists():
            return None
        doc = read_json(self.plan_file)
        if not isinstance(doc, dict):
            raise DsdError(f"{self.plan_file} is damaged; restore it or use a new folder")
        return doc

    def check_plan(self, plan: Mapping[str, Any]) -> None:
        """DsdError unless the folder is new (absent or empty) or holds this same plan."""
        if not self.root.is_dir() or not [p for p in self.root.iterdir() if p != self.lock_file]:
            return
        old = self.read_plan()
        if old is None:
            raise DsdError(
                f"{self.root} exists and is not a dsd design folder (no {PLAN}); use a new -o DIR"
            )
        new = json.loads(json.dumps(plain(dict(plan))))
        keys = (set(new) | set(old)) - {"command"}  # how it was started is not what it is
        changed = sorted(k for k in keys if new.get(k) != old.get(k))
        if changed:
            raise DsdError(
                f"{self.root} holds another design ({old.get('what', '?')}; differs in: "
                f"{', '.join(changed)}); use a new -o DIR, or the command that started it"
            )

    @contextlib.contextmanager
    def started(self, plan: Mapping[str, Any]) -> Iterator[DesignFolder]:
        """Hold the lock, check the plan again under it (a design may have started since) and
        store it if new."""
        with self.lock():
            self.check_plan(plan)
            if not self.plan_file.exists():
                write_json_atomic(self.plan_file, plan)
            yield self

    @contextlib.contextmanager
    def lock(self) -> Iterator[DesignFolder]:
        """Create the folder and hold its driver lock; DsdError naming the driver holding it."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            with hold_lock(self.lock_file, wait_s=1.0, keep=True):
                yield self
        except LockBusy as e:
            raise DsdError(
                f"design folder {self.root} is in use by another driver ({e.holder}); wait for "
                "it to finish or stop it, then run the same command again to resume"
            ) from None

    def read_step(self, k: int) -> dict | None:
        """The decisions of step ``k``, None if none were made yet."""
        return read_json(self.steps / f"{k}.json")  # None if absent or damaged

    def write_step(self, k: int, doc: Mapping[str, Any]) -> None:
        """Store the decisions of step ``k`` atomically."""
        self.steps.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.steps / f"{k}.json", doc)


def is_design_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a design folder (``dsd status`` dispatches on it)."""
    return (Path(path) / PLAN).is_file()


@dataclass(frozen=True)
class DesignStatus:
    """How far a design is: its plan, the populations (done / total models) and the steps."""

    root: Path
    plan: dict
    populations: dict[str, tuple[int, int]]
    steps: list[dict]
    driver: str | None

    def describe(self) -> str:
        """A few lines for the terminal."""
        p = self.plan
        lines = [f"{self.root}: design {p.get('what', '?')} on {p.get('experiment', '?')}"]
        lines += [
            f"  population {x:<28} {d:5d} / {t} models" for x, (d, t) in self.populations.items()
        ]
        for s in self.steps:
            lines.append(f"  step {s['step']}: {s['text']}")
        if not self.steps:
            lines.append("  no step decided yet")
        resume = p.get("command") or "the same command"
        lines.append(f"  driver   {self.driver or f'none (run `{resume}` again to resume)'}")
        return "\n".join(lines)


def design_status(path: str | os.PathLike) -> DesignStatus:
    """The status of the design folder at ``path`` (read only; safe while it runs)."""
    folder = DesignFolder(Path(path))
    plan = folder.read_plan()
    if plan is None:
        raise DsdError(f"{path}: not a dsd design folder (no {PLAN})")
    pops: dict[str, tuple[int, int]] = {}
    planned = list(plan.get("populations", []))
    for label in planned + [x for x in _labels(folder) if x not in planned]:
        pops[label] = (0, int(plan.get("models", 0)))
        with contextlib.suppress(DsdError):
            st = run_status(folder.root / label)
            pops[label] = (sum(st.done.values()), st.total)
    docs = {k: folder.read_step(k) for k in range(1, 1 + int(plan.get("steps", 0) or 0))}
    steps = [{"step": k, "text": d.get("summary", "")} for k, d in docs.items() if d is not None]
    holder = lock_holder(folder.lock_file)
    return DesignStatus(folder.root, plan, pops, steps, holder[0] if holder else None)


def _labels(folder: DesignFolder) -> list[str]:
    """The population folders under ``folder``, oldest first."""
    found = [p for p in folder.root.iterdir() if (p / "tasks.json").exists()]
    return [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime)]
