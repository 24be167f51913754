"""The sweep's :class:`~dsd.sweep.task.Trainer` for :mod:`dsd.trainer` (which knows nothing of
the sweep): a frozen recipe that trains one samples row with :func:`dsd.trainer.train_row`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dsd.trainer import TrainConfig, check_rows, clear_cache, pick_device, train_row


@dataclass(frozen=True)
class TorchTrainer:
    """Trains rows with one :class:`~dsd.trainer.TrainConfig` (picklable: a frozen config)."""

    config: TrainConfig
    progress: bool = False  # a per-model progress bar (dsd train)

    @property
    def seed(self) -> int:
        """The training seed of the recipe."""
        return self.config.seed

    @property
    def device(self) -> str:
        """The device the recipe asks for."""
        return self.config.device

    def with_seed(self, seed: int) -> TorchTrainer:
        """The same recipe with another training seed."""
        return replace(self, config=self.config.replace(seed=seed))

    def recipe_columns(self) -> dict[str, Any]:
        """``dataset``, ``epochs`` and the recipe columns of :meth:`TrainConfig.recipe`."""
        return {
            "dataset": self.config.dataset,
            "epochs": self.config.epochs,
            **self.config.recipe(),
        }

    def check(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Check the device by name and the data set of ``rows`` on the CPU, then free the data."""
        pick_device(self.config.device)
        try:
            check_rows(rows, self.config.replace(device="cpu"))
        finally:
            clear_cache()

    def train(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The result record of ``row`` (:func:`dsd.trainer.train_row`)."""
        return train_row(row, self.config, progress=self.progress)
