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
    "balanced_accuracy": ("max", "classification"),
    "macro_f1": ("max", "classification"),
    "auroc": ("max", "classification"),
    "subset_accuracy": ("max", "classification"),
    "micro_f1": ("max", "classification"),
    "macro_auroc": ("max", "classification"),
}
#: objective metrics defined for two classes only (the positive class is label 1)
BINARY_METRICS = frozenset({"auroc"})
#: objective metrics of a multi-label classification (experiments.multilabel)
MULTILABEL_METRICS = frozenset({"loss", "subset_accuracy", "micro_f1", "macro_f1", "macro_auroc"})
#: objective metrics read from the scores, not only from the decisions: their evaluations keep the scores
SCORED_METRICS = BINARY_METRICS | {"macro_auroc"}


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MNIST1D(_Settings):
    """MNIST-1D (Greydanus 2020), generated offline: 10 classes, 40 timesteps, 1 feature."""

    name: Literal["mnist1d"] = "mnist1d"
    samples: int = Field(4000, ge=100, le=1_000_000, description="generated samples; 80% train+val, 20% test")
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="share of the training part kept for validation")
    seed: int = Field(42, ge=0, description="generator seed of the data (not of the trials)")
    positive_class: int | None = Field(
        None, ge=0, le=9, description="one digit against the rest: its label becomes 1, every other 0 (2 classes)"
    )

    task: Task = Field("classification", frozen=True, exclude=True)

    @property
    def n_classes(self) -> int:
        return 10 if self.positive_class is None else 2


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
    """A user's ``.npz`` with ``X`` (samples, timesteps, features) and ``y`` (samples,), or for a multi-label
    classification ``y`` (samples, labels) of 0/1; optionally ``static`` (samples, features): inputs
    that are not series, read by the head beside the LSTM's final state (standardised with the
    training part's mean and standard deviation)."""

    name: Literal["npz"] = "npz"
    path: Path
    task: Task = "classification"
    val_fraction: float = Field(0.15, gt=0.0, lt=1.0)
    test_fraction: float = Field(0.15, gt=0.0, lt=1.0)
    seed: int = Field(0, ge=0, description="seed of the train/val/test split")

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> NpzFile:
        _check_fractions(self.val_fraction, self.test_fraction)
        return self


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1 to leave training data, "
            f"got {val_fraction} + {test_fraction}; lower one of them"
        )


class Series(_Settings):
    """Time series from a table (CSV, or Parquet by the suffix ``.parquet``/``.pq``), cut into windows.

    One long series, or several keyed by the ``id`` column, each sorted by the ``time`` column when
    given (else kept in file order). Each series is split in time: its first rows train, the next
    ``val_fraction`` validate, the last ``test_fraction`` test; windows are cut within each part, so
    none crosses a split. A window of ``window`` steps (a trial's ``window`` hyperparameter, when
    searched, replaces it) reads the ``features`` and predicts the ``target`` ``horizon`` steps after
    its last step; windows start every ``stride`` steps (stateless trials; stateful ones use stride =
    window). Features and a regression target are standardised with the mean and standard deviation
    of the training part of all series, so regression metrics are on that standardised scale.

    A list of ``target`` columns (two or more, each 0/1) makes a multi-label classification. ``static``
    columns hold one value per series (the same in each of its rows): every window of a series reads
    them beside the LSTM's final state, standardised as the features are.
    """

    name: Literal["series"] = "series"
    path: Path = Field(description="a .csv, or a .parquet/.pq file")
    target: str | tuple[str, ...] = Field(
        description="the column to predict, or a list of 0/1 columns (multi-label classification)"
    )
    features: tuple[str, ...] | None = Field(
        None, min_length=1, description="input columns; default for regression: the target alone"
    )
    static: tuple[str, ...] | None = Field(
        None, min_length=1, description="columns of one value per series, read beside the LSTM's final state"
    )
    id: str | None = Field(None, description="column naming the series of each row, for several series")
    time: str | None = Field(
        None, description="column to sort each series by (numbers, or text such as ISO dates); default: file order"
    )
    task: Task = "regression"
    window: int = Field(ge=1, le=100_000, description="steps a window reads (the default of the window hyperparameter)")
    stride: int = Field(1, ge=1, le=100_000, description="steps between the starts of stateless windows")
    horizon: int = Field(
        1, ge=0, le=100_000, description="target steps after a window's last step; >= 1 for regression"
    )
    val_fraction: float = Field(0.15, gt=0.0, lt=1.0, description="share of each series validating, after training")
    test_fraction: float = Field(0.15, gt=0.0, lt=1.0, description="share of each series testing, at its end")

    @model_validator(mode="after")
    def _consistent(self) -> Series:
        _check_fractions(self.val_fraction, self.test_fraction)
        if self.multilabel:
            if self.task != "classification" or len(self.target) < 2:
                raise ValueError(
                    f"target: a list of target columns is a multi-label classification of two or more 0/1 "
                    f"columns, got {len(self.target)} with task {self.task}; set task: classification and list "
                    f"two or more columns, or name one column"
                )
            if len(set(self.target)) != len(self.target):
                twice = sorted({t for t in self.target if self.target.count(t) > 1})
                raise ValueError(f"target: {twice[0]!r} is listed twice; list each column once")
        if self.task == "regression" and self.horizon < 1:
            raise ValueError(
                f"horizon: a regression forecasts the target at least 1 step after the window, got {self.horizon}; "
                f"set horizon >= 1"
            )
        if self.task == "classification" and self.features is None:
            raise ValueError(
                f"features: a classification names its input columns (the label column {self.target!r} alone "
                f"would leak the label); set features: [column, ...]"
            )
        features, static = self.features or (), self.static or ()
        for key, columns in (("features", features), ("static", static)):
            if len(set(columns)) != len(columns):
                twice = sorted({f for f in columns if columns.count(f) > 1})
                raise ValueError(f"{key}: {twice[0]!r} is listed twice; list each column once")
        for key in ("id", "time"):
            column = getattr(self, key)
            if column is not None and (column in self.target_columns or (key == "id" and column in features)):
                raise ValueError(
                    f"{key}: column {column!r} is also the target or a feature; name another column for {key}"
                )
        for column in static:
            if column in self.target_columns + features or column in (self.id, self.time):
                raise ValueError(
                    f"static: column {column!r} is also the target, a feature, the id or the time; a static column "
                    f"is an input of its own: name another column, or leave it out of static"
                )
        return self

    @property
    def multilabel(self) -> bool:
        """Whether ``target`` is a list of columns (a multi-label classification)."""
        return isinstance(self.target, tuple)

    @property
    def target_columns(self) -> tuple[str, ...]:
        """The target column(s)."""
        return self.target if isinstance(self.target, tuple) else (self.target,)

    @property
    def feature_columns(self) -> tuple[str, ...]:
        """The input columns: ``features``, or the target alone."""
        return self.features or (self.target,)

    @property
    def static_columns(self) -> tuple[str, ...]:
        return self.static or ()


DatasetSettings = Annotated[MNIST1D | Adding | NpzFile | Series, Field(discriminator="name")]


class TrainingSettings(_Settings):
    """The training loop of every trial."""

    max_epochs: int = Field(20, ge=1, le=100_000)
    patience: int | None = Field(5, ge=1, description="early stopping: epochs without a better validation score")
    grad_clip: float | None = Field(1.0, gt=0.0, description="max gradient norm; null for none")
    eval_batch_size: int = Field(2048, ge=1)
    flush_denormal: bool = Field(True, description="on CPU, compute subnormal floats as zero (x86 FTZ/DAZ): "
                                 "a trial whose values decay into that range otherwise trains many times slower "
                                 "(bench/denormal.py); false computes them exactly")
