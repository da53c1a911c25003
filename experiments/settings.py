"""Typed settings of what gets trained: the data set and the training loop (pydantic, no torch).

A sweep spec embeds these; they are also usable on their own (benchmarks, tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Task = Literal["classification", "regression"]

#: objective metric → (direction, task it applies to; None = any task)
METRICS: dict[str, tuple[Literal["max", "min"], Task | None]] = {
    "accuracy": ("max", "classification"),
    "loss": ("min", None),
    "mse": ("min", "regression"),
}


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MNIST1D(_Settings):
    """MNIST-1D (Greydanus 2020), generated offline: 10 classes, 40 timesteps, 1 feature."""

    name: Literal["mnist1d"] = "mnist1d"
    samples: int = Field(4000, ge=100, le=1_000_000, description="generated samples; 80% train+val, 20% test")
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="share of the training part kept for validation")
    seed: int = Field(42, ge=0, description="generator seed of the data (not of the trials)")

    task: Task = Field("classification", frozen=True, exclude=True)


class Adding(_Settings):
    """The adding problem (Hochreiter & Schmidhuber 1997): regression on (value, marker) sequences."""

    name: Literal["adding"] = "adding"
    length: int = Field(50, ge=2, le=10_000, description="timesteps per sequence")
    train: int = Field(4000, ge=10, le=10_000_000)
    val: int = Field(1000, ge=10, le=10_000_000)
    test: int = Field(1000, ge=10, le=10_000_000)
    seed: int = Field(0, ge=0)

    task: Task = Field("regression", frozen=True, exclude=True)


class NpzFile(_Settings):
    """A user's ``.npz`` with ``X`` (samples, timesteps, features) and ``y`` (samples,)."""

    name: Literal["npz"] = "npz"
    path: Path
    task: Task = "classification"
    val_fraction: float = Field(0.15, gt=0.0, lt=1.0)
    test_fraction: float = Field(0.15, gt=0.0, lt=1.0)
    seed: int = Field(0, ge=0, description="seed of the train/val/test split")

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> NpzFile:
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"val_fraction + test_fraction must be < 1 to leave training data, "
                f"got {self.val_fraction} + {self.test_fraction}; lower one of them"
            )
        return self


DatasetSettings = Annotated[MNIST1D | Adding | NpzFile, Field(discriminator="name")]


class TrainingSettings(_Settings):
    """The training loop of every trial."""

    max_epochs: int = Field(20, ge=1, le=100_000)
    patience: int | None = Field(5, ge=1, description="early stopping: epochs without a better validation score")
    grad_clip: float | None = Field(1.0, gt=0.0, description="max gradient norm; null for none")
    eval_batch_size: int = Field(2048, ge=1)
