"""The search space: one distribution (or fixed value) per LSTM hyperparameter, with conditions.

YAML form, one entry per hyperparameter of :mod:`experiments.hyperparams`::

    units:     {type: log_int, low: 16, high: 256}
    lr:        {type: log_uniform, low: 1.0e-4, high: 0.1}
    optimizer: {type: choice, values: [sgd, adam]}
    momentum:  {type: uniform, low: 0.0, high: 0.99, when: {optimizer: sgd}}
    bidirectional: false          # a fixed value

Every distribution maps one uniform number ``u`` in [0, 1) to a value (:meth:`ppf`), so random and
quasi-random strategies share one code path. ``when: {parent: value | [values]}`` makes a parameter
exist only while ``parent`` (an unconditional parameter of the space) takes one of those values;
otherwise the trial records it as ``None``.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator

Scalar = Union[StrictBool, StrictInt, StrictFloat, StrictStr]


class _Distribution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    when: dict[str, Scalar | list[Scalar]] | None = Field(
        None, description="exists only while each named parameter takes one of the given values"
    )

    def active(self, params: dict[str, object]) -> bool:
        for parent, allowed in (self.when or {}).items():
            allowed = allowed if isinstance(allowed, list) else [allowed]
            if params.get(parent) not in allowed:
                return False
        return True

    def values_for_check(self) -> list[object]:
        """The values to check against the hyperparameter's domain (bounds or choices)."""
        raise NotImplementedError

    def ppf(self, u: float) -> object:
        raise NotImplementedError

    def grid(self, points: int) -> list[object]:
        raise NotImplementedError


class Choice(_Distribution):
    type: Literal["choice"]
    values: list[Scalar] = Field(min_length=1)

    def values_for_check(self) -> list[object]:
        return list(self.values)

    def ppf(self, u: float) -> object:
        return self.values[min(int(u * len(self.values)), len(self.values) - 1)]

    def grid(self, points: int) -> list[object]:
        return list(self.values)


class _Range(_Distribution):
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        if self.low > self.high:
            raise ValueError(f"low must be <= high, got low={self.low} > high={self.high}; swap them")
        return self

    def values_for_check(self) -> list[object]:
        return [self.low, self.high]


class Uniform(_Range):
    type: Literal["uniform"]

    def ppf(self, u: float) -> float:
        return self.low + u * (self.high - self.low)

    def grid(self, points: int) -> list[object]:
        return [self.low + i * (self.high - self.low) / max(points - 1, 1) for i in range(points)]


class LogUniform(_Range):
    type: Literal["log_uniform"]

    @model_validator(mode="after")
    def _positive(self) -> LogUniform:
        if self.low <= 0:
            raise ValueError(f"low must be > 0 for a log scale, got {self.low}; use a small positive bound like 1e-5")
        return self

    def ppf(self, u: float) -> float:
        return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))

    def grid(self, points: int) -> list[object]:
        return [self.ppf(i / max(points - 1, 1)) for i in range(points)]


class Int(_Range):
    type: Literal["int"]
    low: StrictInt
    high: StrictInt

    def ppf(self, u: float) -> int:
        return min(self.low + int(u * (self.high - self.low + 1)), self.high)

    def grid(self, points: int) -> list[object]:
        return list(range(self.low, self.high + 1))


class LogInt(_Range):
    """Integers spread evenly on a log scale: each value v has mass log((v+1)/v) / log((high+1)/low)."""

    type: Literal["log_int"]
    low: StrictInt
    high: StrictInt

    @model_validator(mode="after")
    def _positive(self) -> LogInt:
        if self.low <= 0:
            raise ValueError(f"low must be >= 1 for a log scale, got {self.low}; use low: 1 or type: int")
        return self

    def ppf(self, u: float) -> int:
        value = math.exp(math.log(self.low) + u * (math.log(self.high + 1) - math.log(self.low)))
        return max(self.low, min(int(value + 1e-9), self.high))  # exp(log(16)) is 15.999…

    def grid(self, points: int) -> list[object]:
        return sorted({self.ppf(i / points) for i in range(points)} | {self.high})


class Fixed(BaseModel):
    """A hyperparameter held at one value for the whole sweep (written as a plain scalar in YAML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["fixed"] = "fixed"
    value: Scalar
    when: None = None

    def active(self, params: dict[str, object]) -> bool:
        return True

    def values_for_check(self) -> list[object]:
        return [self.value]

    def ppf(self, u: float) -> object:
        return self.value

    def grid(self, points: int) -> list[object]:
        return [self.value]


Param = Annotated[Union[Choice, Uniform, LogUniform, Int, LogInt, Fixed], Field(discriminator="type")]


def as_param_mapping(raw: object) -> object:
    """YAML shorthand: a plain scalar stands for ``{type: fixed, value: scalar}``."""
    return raw if isinstance(raw, dict) else {"type": "fixed", "value": raw}


def check_space(space: dict[str, Param]) -> None:
    """Check the space against the LSTM family's hyperparameters; raise ``ValueError("field: why")``."""
    from experiments.hyperparams import DOMAINS

    if not space:
        raise ValueError(f"space: is empty; add at least one hyperparameter, e.g. units, one of {', '.join(DOMAINS)}")
    for name, param in space.items():
        domain = DOMAINS.get(name)
        if domain is None:
            raise ValueError(f"space.{name}: unknown hyperparameter; expected one of {', '.join(DOMAINS)}")
        if isinstance(param, (Uniform, LogUniform)) and domain.kind is not float:
            fix = "type: int or log_int" if domain.kind is int else "type: choice"
            raise ValueError(f"space.{name}: takes {domain.describe()}, not a real range; use {fix}")
        if isinstance(param, (Int, LogInt)) and domain.kind is not int:
            fix = "uniform or log_uniform" if domain.kind is float else "choice"
            raise ValueError(f"space.{name}: takes {domain.describe()}, not an integer range; use type: {fix}")
        for value in param.values_for_check():
            if (why := domain.check(value)) is not None:
                field = "value" if isinstance(param, Fixed) else "values" if isinstance(param, Choice) else "bounds"
                raise ValueError(f"space.{name}.{field}: {why}")
        _check_when(name, param, space)


def _check_when(name: str, param: Param, space: dict[str, Param]) -> None:
    from experiments.hyperparams import DOMAINS

    for parent, allowed in (param.when or {}).items():
        where = f"space.{name}.when.{parent}"
        if parent == name or parent not in space:
            raise ValueError(f"{where}: a condition must name another parameter of the space; got {parent!r}")
        if space[parent].when:
            raise ValueError(f"{where}: {parent} is itself conditional; conditions may only name unconditional parameters")
        for value in allowed if isinstance(allowed, list) else [allowed]:
            if (why := DOMAINS[parent].check(value)) is not None:
                raise ValueError(f"{where}: {why}")



def extreme_values(param: Param) -> list[object]:
    """The values of a parameter that bound what its trials ask of a data set: every choice, the fixed value,
    or a range's two ends."""
    if isinstance(param, Choice):
        return list(param.values)
    if isinstance(param, Fixed):
        return [param.value]
    return [param.low, param.high]
