"""The hyperparameters of the LSTM model family: names, domains, defaults and the rules between them.

Pure Python (no torch), so a sweep spec can be checked against it without loading a framework.

Rules (applied by :func:`normalize`, so what is recorded is what was trained):

* ``dropout`` only acts when ``dropout_placement != "none"``; otherwise it is inactive (``None``).
* ``between`` dropout needs two or more stacked layers: a trial drawn with ``between`` and
  ``layers == 1`` trains without dropout and is recorded as ``dropout_placement="none"``,
  ``dropout=None``.
* ``momentum`` only acts for ``sgd`` and ``rmsprop``; otherwise it is inactive (``None``).
* ``resample`` acts on stateless trials only: a stateful trial reads its windows as streams in time
  order, which a resampled set of windows is not, so it trains on the windows as they are and is
  recorded with ``resample=None``.

Inactive parameters are ``None`` in the trial's config; the analysis treats them as absent.

``window``, ``stateful``, ``class_weight``, ``binary_head``, ``resample`` and ``static_input`` have no
other rule here: each acts on every trial of a data set that takes it (``window`` and ``stateful``: a
``series``; ``class_weight``: a classification; ``binary_head``: a classification of two classes;
``resample``: a classification of one label per sample; ``static_input``: a data set with static
inputs), and a space that searches one on another data set is refused before the sweep
(:func:`experiments.checks.check_params` from the settings, :func:`experiments.checks.check_config`
once the data is read), so none of them is recorded inactive there. ``window`` ``None`` is the data
set's own window; ``binary_head`` ``None`` is one logit per class (``softmax2`` for two classes);
``resample`` ``None`` trains on the training part as it is (``none``);
``static_input`` ``None`` uses the data set's static inputs when it has them (``true``), and ``false``
leaves them out of the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

PLACEMENTS = ("none", "input", "between", "output")
OPTIMIZERS = ("sgd", "adam", "adamw", "adagrad", "rmsprop")
MOMENTUM_OPTIMIZERS = ("sgd", "rmsprop")
CLASS_WEIGHTS = ("none", "balanced")
#: the head of a two-class problem: two logits and a softmax, or one logit and a sigmoid
BINARY_HEADS = ("softmax2", "sigmoid1")
#: random resampling of the training part, drawn again every epoch
RESAMPLES = ("none", "oversample", "undersample")


@dataclass(frozen=True)
class Domain:
    """Valid values of one hyperparameter: a type, and bounds or a set of choices."""

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[object, ...] | None = None

    def describe(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind is bool:
            return "true or false"
        name = "an integer" if self.kind is int else "a number"
        lo = "(" if self.low_open else "["
        hi = ")" if self.high_open else "]"
        return f"{name} in {lo}{self.low}, {self.high}{hi}"

    def check(self, value: object) -> str | None:
        """Return why ``value`` is outside this domain, or ``None`` when it is inside."""
        if self.choices is not None:
            return None if value in self.choices else f"expected {self.describe()}, got {value!r}"
        if self.kind is bool:
            return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected {self.describe()}, got {value!r}"
        if self.kind is int and not float(value).is_integer():
            return f"expected an integer, got {value!r}"
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        return f"expected {self.describe()}, got {value!r}" if too_low or too_high else None


DOMAINS: dict[str, Domain] = {
    "units": Domain(int, 1, 4096),
    "layers": Domain(int, 1, 8),
    "dropout_placement": Domain(str, choices=PLACEMENTS),
    "dropout": Domain(float, 0.0, 1.0, high_open=True),
    "bidirectional": Domain(bool),
    "optimizer": Domain(str, choices=OPTIMIZERS),
    "lr": Domain(float, 0.0, 10.0, low_open=True),
    "momentum": Domain(float, 0.0, 1.0, high_open=True),
    "weight_decay": Domain(float, 0.0, 1.0),
    "batch_size": Domain(int, 1, 65536),
    "window": Domain(int, 1, 100_000),
    "stateful": Domain(bool),
    "class_weight": Domain(str, choices=CLASS_WEIGHTS),
    "binary_head": Domain(str, choices=BINARY_HEADS),
    "resample": Domain(str, choices=RESAMPLES),
    "static_input": Domain(bool),
}


@dataclass(frozen=True)
class LSTMConfig:
    """One point of the search space, with defaults for what a sweep does not search or fix."""

    units: int = 64
    layers: int = 1
    dropout_placement: str = "none"
    dropout: float = 0.0
    bidirectional: bool = False
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 64
    window: int | None = None  # steps of a series window; None: the data set's own ``window``
    stateful: bool = False  # carry (h, c) across consecutive windows of a series (experiments.stateful);
    #                         a bidirectional model carries its forward direction only
    class_weight: str = "none"  # "balanced": cross-entropy weights n / (K · count_k) of the training labels;
    #                             multi-label: a pos_weight per label, its training negatives / positives
    binary_head: str | None = None  # two classes: "softmax2" (two logits, the default) or "sigmoid1" (one logit)
    resample: str | None = None  # "oversample" / "undersample" the training part to equal classes, each epoch
    #                              anew; None (not searched, or inactive) trains as "none"
    static_input: bool | None = None  # None / True: the data set's static inputs join the head; False: left out

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> LSTMConfig:
        """Build from a trial's (normalized) params. A parameter the params leave out takes its default; one
        they set ``None`` (inactive) takes its neutral value: the default, but momentum, which is then 0, as
        a trial recorded without momentum trains without it (``momentum: {when: {optimizer: sgd}}``
        leaves rmsprop trials without momentum, torch's own default)."""
        given = {k: v for k, v in params.items() if v is not None}
        if "momentum" in params and params["momentum"] is None:
            given["momentum"] = 0.0
        coerced = {k: DOMAINS[k].kind(v) for k, v in given.items()}
        return cls(**coerced)


def normalize(params: Mapping[str, object]) -> dict[str, object]:
    """Apply the family's rules (module docstring) to sampled params; keys are kept, inactive → ``None``."""
    out = dict(params)
    layers = int(out.get("layers", LSTMConfig.layers))
    placement = out.get("dropout_placement", LSTMConfig.dropout_placement)
    if placement == "between" and layers < 2:
        placement = "none"
        if "dropout_placement" in out:
            out["dropout_placement"] = "none"
    if placement == "none" and "dropout" in out:
        out["dropout"] = None
    if out.get("optimizer", LSTMConfig.optimizer) not in MOMENTUM_OPTIMIZERS and "momentum" in out:
        out["momentum"] = None
    if out.get("stateful") and "resample" in out:
        out["resample"] = None
    return out


def dropout_at(config: LSTMConfig, placement: str) -> float:
    """The dropout rate that acts at ``placement`` (0 where it does not; ``between`` needs 2+ layers)."""
    if config.dropout_placement not in PLACEMENTS:
        raise ValueError(f"dropout_placement: expected one of {', '.join(PLACEMENTS)}, got {config.dropout_placement!r}")
    if config.dropout_placement != placement or (placement == "between" and config.layers < 2):
        return 0.0
    return float(config.dropout or 0.0)


HYPERPARAMETERS = tuple(f.name for f in dataclasses.fields(LSTMConfig))
assert set(HYPERPARAMETERS) == set(DOMAINS)
