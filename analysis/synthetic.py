"""A synthetic trials table in the interchange format, for tests, benchmarks and demos.

An LSTM-like search space with the family's conditional rules (``dropout`` inactive when the
placement is ``none``, ``between`` needs two layers, ``momentum`` only for sgd/rmsprop), a smooth
"true accuracy" of each config, and validation/test accuracies drawn as binomial proportions of
``val_n``/``test_n`` examples. A few trials diverge (large sgd learning rates) or fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

OPTIMIZERS = ("sgd", "adam", "rmsprop")
PLACEMENTS = ("none", "input", "between", "output")
_BEST_LOG_LR = {"sgd": -1.5, "adam": -2.5, "rmsprop": -2.8}


def synthetic_trials(
    size: int = 1000, *, seed: int = 0, val_n: int | None = 2000, test_n: int | None = 5000, failures: bool = True
) -> pd.DataFrame:
    """``size`` i.i.d. random trials; set sizes ``None`` drops the ``val_n``/``test_n`` columns."""
    rng = np.random.default_rng(seed)
    units = np.round(np.exp(rng.uniform(np.log(16), np.log(1024), size))).astype(int)
    layers = rng.integers(1, 5, size)
    placement = rng.choice(PLACEMENTS, size)
    placement[(placement == "between") & (layers < 2)] = "none"
    dropout = np.where(placement == "none", np.nan, rng.uniform(0.0, 0.7, size))
    optimizer = rng.choice(OPTIMIZERS, size)
    log_lr = rng.uniform(-4.0, -1.0, size)
    momentum = np.where(np.isin(optimizer, ("sgd", "rmsprop")), rng.uniform(0.5, 0.99, size), np.nan)

    best_lr = np.array([_BEST_LOG_LR[o] for o in optimizer])
    logit = (
        2.2
        - 0.9 * (log_lr - best_lr) ** 2
        - 0.08 * (np.log2(units) - 7.5) ** 2
        - 0.15 * (layers - 2) ** 2
        + np.where(placement == "none", 0.0, 0.6 * np.nan_to_num(dropout) - 0.9 * np.nan_to_num(dropout) ** 2)
        + np.where(placement == "between", 0.1, 0.0)
    )
    truth = 0.1 + 0.85 / (1.0 + np.exp(-logit))
    frame = pd.DataFrame({"trial_index": np.arange(size), "status": "ok"})
    n_val, n_test = val_n or 2000, test_n or 5000
    frame["val_score"] = rng.binomial(n_val, truth) / n_val
    frame["test_score"] = rng.binomial(n_test, truth) / n_test
    if val_n is not None and test_n is not None:
        frame["val_n"], frame["test_n"] = val_n, test_n
    frame["train_seconds"] = 30.0 + 0.02 * units * layers * rng.lognormal(0.0, 0.3, size)
    if failures:
        u = rng.uniform(size=size)
        diverged = ((optimizer == "sgd") & (log_lr > -1.3) & (u < 0.6)) | (u > 0.995)
        frame.loc[diverged, ["status", "val_score", "test_score"]] = ["diverged", np.nan, np.nan]
        frame.loc[(u > 0.98) & (u <= 0.99), "status"] = "error"
        frame.loc[(u > 0.99) & (u <= 0.995), "status"] = "infra"
    for name, values in {
        "units": units,
        "layers": layers,
        "dropout_placement": placement,
        "dropout": dropout,
        "optimizer": optimizer,
        "lr": 10.0**log_lr,
        "momentum": momentum,
    }.items():
        frame["param_" + name] = values
    return frame


def synthetic_curves(
    trials: pd.DataFrame, *, max_epochs: int = 20, patience: int | None = 3, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Learning curves for the trials of ``trials`` (a table of :func:`synthetic_trials`; validation
    accuracy, higher is better), and the table made consistent with them.

    Each ok trial's validation accuracy rises towards its table score at its own rate, with binomial
    noise, and ends when it has not improved for ``patience`` epochs (or at ``max_epochs``); its
    ``val_score`` becomes its curve's best and its ``test_score`` moves by as much. A diverged trial
    records a few epochs before its NaN loss; error and infra trials record none. Each epoch takes
    ``train_seconds / max_epochs`` seconds, and ``train_seconds`` becomes the sum of its epochs.
    Returns ``(table, curves)``, the curves in the format of :mod:`analysis.curves`.
    """
    rng = np.random.default_rng(seed)
    table = trials.copy()
    n_val = int(table["val_n"].iloc[0]) if "val_n" in table else 2000
    rows = []
    epochs = np.arange(1, max_epochs + 1)
    for i, row in table.iterrows():
        status, k = row["status"], int(row["trial_index"])
        if status not in ("ok", "diverged"):
            continue
        target = row["val_score"] if status == "ok" else rng.uniform(0.2, 0.9)
        rate = rng.uniform(0.1, 0.8)
        truth = 0.1 + (target - 0.1) * (1 - np.exp(-rate * epochs)) / (1 - np.exp(-rate * max_epochs))
        val = rng.binomial(n_val, np.clip(truth, 0, 1)) / n_val
        end = _patience_end(val, patience) if status == "ok" else int(rng.integers(0, max_epochs // 2 + 1))
        val = val[:end]
        seconds = np.full(end, row["train_seconds"] / max_epochs)
        rows += [(k, e, v, s) for e, (v, s) in enumerate(zip(val, seconds), start=1)]
        table.loc[i, "train_seconds"] = seconds.sum()
        if status == "ok":
            table.loc[i, "test_score"] = float(np.clip(row["test_score"] + val.max() - row["val_score"], 0, 1))
            table.loc[i, "val_score"] = val.max()
    curves = pd.DataFrame(rows, columns=["trial_index", "epoch", "val_score", "seconds"])
    return table, curves


def _patience_end(val: np.ndarray, patience: int | None) -> int:
    """The epoch where a trainable with this patience ends: no better score for ``patience`` epochs."""
    best, best_epoch = -np.inf, 0
    for epoch, v in enumerate(val, start=1):
        if v > best:
            best, best_epoch = v, epoch
        elif patience is not None and epoch - best_epoch >= patience:
            return epoch
    return len(val)
