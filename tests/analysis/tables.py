"""Small tables, quickstart-like trials and stopping sweeps, built for the analysis tests."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from analysis.curves import Curve
from analysis.stopping import Asha, Median


def table(val, test, *, status=None, val_n=None, test_n=None, **params) -> pd.DataFrame:
    """A trials table from plain lists (trial_index 0..S-1, status ok unless given)."""
    frame = pd.DataFrame({"trial_index": np.arange(len(val)), "status": status or ["ok"] * len(val), "val_score": val, "test_score": test})
    if val_n is not None:
        frame["val_n"], frame["test_n"] = val_n, test_n
    for name, values in params.items():
        frame["param_" + name] = values
    return frame


@st.composite
def tables(draw):
    """Random small tables: ties, all-equal scores, S = 1, failures, optional set sizes, conditional NaN."""
    size = draw(st.integers(1, 40))
    val = draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.5, 0.75, 1.0]), min_size=size, max_size=size))
    test = draw(st.lists(st.floats(0, 1), min_size=size, max_size=size))
    status = draw(st.lists(st.sampled_from(["ok", "ok", "ok", "diverged", "error", "infra"]), min_size=size, max_size=size))
    status[0] = "ok"
    sizes = draw(st.sampled_from([None, 2, 100, 10**6]))
    frame = table(val, test, status=status, val_n=sizes, test_n=sizes, units=[16.0] * size)
    frame.loc[[s == "diverged" for s in status], ["val_score", "test_score"]] = np.nan
    frame["param_dropout"] = [np.nan if v < 0.5 else v for v in val]
    return frame, draw(st.sampled_from(["max", "min"]))


QUICKSTART_OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")


def quickstart_space() -> dict:
    """The search space of experiments/quickstart.yaml as optuna distributions (what the CLI passes)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    return {
        "units": IntDistribution(16, 96, log=True),
        "layers": IntDistribution(1, 2),
        "dropout_placement": CategoricalDistribution(["none", "input", "between", "output"]),
        "dropout": FloatDistribution(0.0, 0.5),
        "optimizer": CategoricalDistribution(list(QUICKSTART_OPTIMIZERS)),
        "lr": FloatDistribution(1e-3, 3e-2, log=True),
        "momentum": FloatDistribution(0.5, 0.99),
        "batch_size": CategoricalDistribution([64, 128]),
    }


def quickstart_trials(size: int, *, seed: int = 0, method: str = "random") -> pd.DataFrame:
    """``size`` trials of the quickstart space by ``method`` ("random" or scrambled "sobol"), with
    MNIST-1D-like accuracies on 800/1000 examples and a few diverged trials (sgd at large rates)."""
    rng = np.random.default_rng(seed)
    if method == "sobol":
        from scipy.stats import qmc

        u = qmc.Sobol(8, scramble=True, seed=seed).random_base2(max(0, (size - 1).bit_length()))[:size]
    else:
        u = rng.uniform(size=(size, 8))
    placement = np.array(["none", "input", "between", "output"])[(u[:, 2] * 4).astype(int)]
    optimizer = np.array(QUICKSTART_OPTIMIZERS)[(u[:, 4] * 4).astype(int)]
    params = {
        "units": np.round(np.exp(np.log(16) + u[:, 0] * np.log(96 / 16))).astype(int),
        "layers": 1 + (u[:, 1] * 2).astype(int),
        "dropout_placement": placement,
        "dropout": np.where(placement == "none", np.nan, 0.5 * u[:, 3]),
        "optimizer": optimizer,
        "lr": 10.0 ** (-3 + u[:, 5] * np.log10(30)),
        "momentum": np.where(optimizer == "sgd", 0.5 + 0.49 * u[:, 6], np.nan),
        "batch_size": np.where(u[:, 7] < 0.5, 64, 128),
    }
    return _quickstart_results(params, rng)


def quickstart_grid(*, seed: int = 0) -> pd.DataFrame:
    """A 36-point grid of the quickstart space: units × layers × optimizer (sgd, adam) × lr, the rest fixed."""
    units, layers, optimizer, lr = (a.ravel() for a in np.meshgrid([16, 32, 64], [1, 2], ["sgd", "adam"], [1e-3, 5e-3, 2.5e-2]))
    n = len(units)
    params = {"units": units, "layers": layers, "dropout_placement": np.full(n, "output"), "dropout": np.full(n, 0.2),
              "optimizer": optimizer, "lr": lr, "momentum": np.where(optimizer == "sgd", 0.9, np.nan),
              "batch_size": np.full(n, 64)}
    return _quickstart_results(params, np.random.default_rng(seed))


def _quickstart_results(params: dict, rng: np.random.Generator) -> pd.DataFrame:
    log_lr, units, dropout = np.log10(params["lr"]), params["units"], np.nan_to_num(params["dropout"])
    best = np.where(params["optimizer"] == "sgd", -1.6, -2.4)
    logit = 1.5 - 1.2 * (log_lr - best) ** 2 + 0.3 * np.log2(units / 16) - 0.2 * params["layers"] + 0.8 * dropout
    truth = 0.1 + 0.8 / (1.0 + np.exp(-logit))
    size = len(units)
    frame = pd.DataFrame({
        "trial_index": np.arange(size), "status": "ok",
        "val_score": rng.binomial(800, truth) / 800, "test_score": rng.binomial(1000, truth) / 1000,
        "val_n": 800, "test_n": 1000, "train_seconds": 20.0 + units * params["layers"] * rng.lognormal(0, 0.2, size) / 8,
    })
    diverged = (params["optimizer"] == "sgd") & (log_lr > -1.7) & (rng.uniform(size=size) < 0.5)
    frame.loc[diverged, ["status", "val_score", "test_score"]] = ["diverged", np.nan, np.nan]
    for name, values in params.items():
        frame["param_" + name] = values
    return frame


@st.composite
def stopping_sweeps(draw, max_size=10):
    """Curves with ties (scores on a coarse grid), ended by patience (the trainable's rule), diverged or
    failed; a rule; a mode; the patience (None: every ok trial runs to max_epochs)."""
    max_epochs = draw(st.integers(2, 10))
    rule = draw(st.one_of(
        st.builds(Asha, st.integers(1, max_epochs - 1), st.integers(2, 4)),
        st.builds(Median, st.integers(1, max_epochs - 1), st.integers(1, 4)),
    ))
    mode, patience = draw(st.sampled_from(["max", "min"])), draw(st.sampled_from([None, 1, 2, 3]))
    curves = []
    for k in range(draw(st.integers(1, max_size))):
        val = np.array(draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), min_size=max_epochs, max_size=max_epochs)))
        val = val[: patience_end(val, patience, mode)]
        outcome = draw(st.sampled_from(["ok"] * 6 + ["diverged", "error"]))
        if outcome != "ok":
            val = val[: draw(st.integers(0, len(val) - 1))]  # it fails before the epoch where it would end by itself
        curves.append(Curve(k, val, np.full(len(val), 1.5), outcome))
    return curves, rule, max_epochs, mode, patience


def patience_end(val, patience, mode):
    """The epoch where the trainable ends a trial of these scores: no better one for ``patience`` epochs."""
    sign, best, best_epoch = (1.0 if mode == "max" else -1.0), -math.inf, 0
    for epoch, v in enumerate(val, start=1):
        if sign * v > best:
            best, best_epoch = sign * v, epoch
        elif patience is not None and epoch - best_epoch >= patience:
            return epoch
    return len(val)
