"""I/O of ``dsd train`` per model: the one-slot sweep run against the loop it replaced.

Training is replaced by :class:`BenchTrainer`, which answers at once with a record of the shape
:func:`dsd.trainer.train_row` returns (10-epoch curves), so all that is measured is bookkeeping
and I/O. Two ways to train ``n`` models into one results file:

- ``rewrite``: the loop ``dsd train`` ran before: after each model, the whole results table is
  written again (quadratic in ``n``);
- ``sweep``: ``dsd train`` now (:func:`dsd.sweep.train_samples`): one JSON record per
  model in ``OUT.run/records/``, the table written once at the end (linear), plus the start of
  one worker process.

Printed: wall seconds and megabytes written for each, and their ratios (rewrite / sweep).

    python benchmarks/train_io.py --n 100 200 400
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from dsd.sweep import SweepOptions, run_folder_for, train_samples
from dsd.trainer import TrainConfig

EPOCHS = 10


@dataclass(frozen=True)
class BenchTrainer:
    """A :class:`dsd.sweep.Trainer` that answers at once with a made-up 10-epoch record."""

    config: TrainConfig
    device: str = "cpu"

    @property
    def seed(self) -> int:
        """The recipe's seed."""
        return self.config.seed

    def with_seed(self, seed: int) -> BenchTrainer:
        """The same, with another seed."""
        return BenchTrainer(self.config.replace(seed=seed))

    def recipe_columns(self) -> dict:
        """The recipe's columns."""
        return {"dataset": self.config.dataset, "epochs": EPOCHS, **self.config.recipe()}

    def check(self, rows) -> None:
        """Nothing to check: no data is read."""

    def train(self, row) -> dict:
        """The record of ``row``, at once."""
        return bench_record(row, self.config)


def bench_record(row, config) -> dict:
    """A made-up result record of the shape train_row returns, without training."""
    err = [0.9 - 0.05 * e for e in range(EPOCHS)]
    return {
        **dict(row),
        "status": "ok",
        "reason": "",
        "top1_err": err[-1],
        "test_err": err,
        "train_loss": [2.3 - 0.1 * e for e in range(EPOCHS)],
        "dataset": config.dataset,
        "epochs": EPOCHS,
        **config.recipe(),
        "train_seed": config.seed,
        "train_seconds": 0.0,
        "device": "cpu",
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _size(folder: Path) -> int:
    """Bytes of all files under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def rewrite(samples: pd.DataFrame, out: Path, config) -> tuple[float, int]:
    """The previous loop: rewrite the whole table after each model; (seconds, bytes written)."""
    from dsd.io import write_table

    t0, written, records = time.perf_counter(), 0, []
    for row in samples.to_dict(orient="records"):
        records.append(bench_record(row, config))
        write_table(pd.DataFrame(records), out)
        written += out.stat().st_size
    return time.perf_counter() - t0, written


def sweep(samples: pd.DataFrame, out: Path, config) -> tuple[float, int]:
    """``dsd train`` now; (seconds, bytes of every file it left: records, plan, tables)."""
    options = SweepOptions(trainer=BenchTrainer(config), progress=False)
    t0 = time.perf_counter()
    summary = train_samples(samples, out, options)
    seconds = time.perf_counter() - t0
    assert summary.trained == {"ok": len(samples)}, summary
    return seconds, _size(run_folder_for(out).root) + out.stat().st_size


def main() -> None:
    """Print the table."""
    from dsd.spaces import load_space

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, nargs="+", default=[100, 200, 400], help="models per run")
    args = p.parse_args()
    config = TrainConfig(dataset="digits", epochs=EPOCHS, device="cpu")
    print(
        f"{'n':>5} {'rewrite s':>10} {'sweep s':>8} {'ratio':>6} "
        f"{'rewrite MB':>11} {'sweep MB':>9} {'ratio':>6}"
    )
    for n in args.n:
        samples = load_space("AnyNetXA").sample(n, seed=0, resolution=8, num_classes=10)
        with tempfile.TemporaryDirectory(prefix="dsd-train-io-") as tmp:
            t_old, b_old = rewrite(samples, Path(tmp) / "old.parquet", config)
            t_new, b_new = sweep(samples, Path(tmp) / "new.parquet", config)
        print(
            f"{n:>5} {t_old:>10.2f} {t_new:>8.2f} {t_old / t_new:>6.2f} "
            f"{b_old / 1e6:>11.2f} {b_new / 1e6:>9.2f} {b_old / b_new:>6.2f}"
        )


if __name__ == "__main__":
    main()
