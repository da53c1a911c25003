"""What a trial reports: per-epoch metrics and its final result. Frozen, typed, no dicts by string."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 1-based
    train_loss: float  # mean training loss of the epoch (class-weighted when class_weight is balanced)
    val_loss: float  # mean validation loss, never class-weighted
    val_score: float  # the objective metric on the validation set
    seconds: float  # wall time of this epoch, training and validation
    # two classes only (positive class 1): recall of class 1 and of class 0 on the validation set;
    # None when not binary, or undefined (no positives / no negatives: then ``note`` says why)
    val_sensitivity: float | None = None
    val_specificity: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class RungScore:
    """A trial as of a rung of early termination (``epoch``): its best validation score so far, that epoch,
    and the test score of that epoch's weights: what it records if it is stopped there."""

    epoch: int
    best_epoch: int
    val_score: float
    test_score: float


@dataclass(frozen=True)
class TrialResult:
    status: Literal["ok", "diverged", "stopped"]  # stopped: early termination stopped it at ``stop_epoch``
    val_score: float | None  # objective metric on validation at the best epoch; None when diverged
    test_score: float | None  # objective metric on test with the weights of the best epoch
    val_n: int
    test_n: int
    epochs: int  # epochs run (a stopped trial: those up to its stop, whose scores it records)
    best_epoch: int  # 0 when no epoch finished
    param_count: int
    memory_estimate_bytes: int
    train_seconds: float  # wall time of the whole training, evaluation included
    cpu_seconds: float  # CPU time of the process meanwhile (all its threads): below train_seconds × threads
    #                     when other work took the CPU from it
    samples_per_second: float  # training samples processed per second of training steps
    device: str = "cpu"  # what it trained on: cpu, or cuda and the GPU's name
    message: str | None = None  # why it diverged, etc.
    stop_epoch: int | None = None  # the rung where early termination stopped it

    def stopped_at(self, rung: RungScore) -> TrialResult:
        """This result as of ``rung``, where early termination stopped the trial."""
        return replace(self, status="stopped", val_score=rung.val_score, test_score=rung.test_score,
                       epochs=rung.epoch, best_epoch=rung.best_epoch, stop_epoch=rung.epoch, message=None)
