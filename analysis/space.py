"""The search space seen in a trials table: one optuna distribution per ``param_<name>`` column.

The caller may pass the sweep's own distributions (the spec's search space); any parameter not
given is inferred from its column:

* non-numeric values (strings, booleans, mixed) → ``CategoricalDistribution`` of the values seen;
* integral numbers → ``IntDistribution``, numbers otherwise → ``FloatDistribution``, over
  [min, max] of the values seen, on a log scale when all are > 0 and max/min ≥ 100.

Empty cells (NaN, None, "") mean the parameter is inactive in that trial (conditional parameters,
e.g. ``dropout`` when ``dropout_placement`` is none); a column with no value at all is dropped.
Values are converted to the distribution's type (a categorical value read back from CSV as the
string "True" matches the choice ``True``); a value outside its distribution is a ``DataError``.

A table can carry its sweep's search space beside it, ``T.space.json`` for ``T.csv``
(:func:`write_space`, :func:`read_space`: optuna's JSON of each distribution), so that a table
analysed on its own is analysed over the space it was searched in, not the one its values suggest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.errors import DataError

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

LOG_RATIO = 100.0


def space_path(table: str | os.PathLike[str]) -> Path:
    """Where a trials table's search space lies: ``T.space.json`` beside ``T.csv``."""
    return Path(table).with_suffix(".space.json")


def write_space(table: str | os.PathLike[str], distributions: Mapping[str, BaseDistribution]) -> Path:
    """Write the search space of the trials table at ``table`` beside it; return its path."""
    from optuna.distributions import distribution_to_json

    path = space_path(table)
    path.write_text(json.dumps({name: json.loads(distribution_to_json(d)) for name, d in distributions.items()},
                               indent=1) + "\n", encoding="utf-8")
    return path


def read_space(table: str | os.PathLike[str]) -> dict[str, BaseDistribution] | None:
    """The search space written beside the trials table at ``table``, or ``None`` when there is none."""
    from optuna.distributions import json_to_distribution

    path = space_path(table)
    if not path.is_file():
        return None
    try:
        return {name: json_to_distribution(json.dumps(d)) for name, d in json.loads(path.read_text()).items()}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise DataError(f"Cannot read the search space {str(path)!r} of the trials table: {e}. Delete it to analyse "
                        "the table over the space its values suggest.") from e


@dataclass(frozen=True, eq=False)
class ParamSpace:
    """Distributions and converted values (object columns, ``None`` where inactive) of a table's params."""

    distributions: Mapping[str, BaseDistribution]
    values: pd.DataFrame = field(repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.distributions)

    def is_categorical(self, name: str) -> bool:
        from optuna.distributions import CategoricalDistribution

        return isinstance(self.distributions[name], CategoricalDistribution)

    def is_integer(self, name: str) -> bool:
        from optuna.distributions import IntDistribution

        return isinstance(self.distributions[name], IntDistribution)

    def is_log(self, name: str) -> bool:
        return bool(getattr(self.distributions[name], "log", False))

    def active(self, name: str) -> np.ndarray:
        return self.values[name].notna().to_numpy()


def param_space(params: pd.DataFrame, distributions: Mapping[str, BaseDistribution] | None = None) -> ParamSpace:
    """The space of ``params`` (param columns with the ``param_`` prefix stripped); see the module docstring."""
    given = dict(distributions or {})
    dists: dict[str, BaseDistribution] = {}
    values = {}
    for name in params.columns:
        column = params[name]
        missing = column.isna().to_numpy()
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            missing = missing | column.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(bool)
        if missing.all():
            continue
        seen = column[~missing]
        dist = given[name] if name in given else infer_distribution(seen)
        converted = np.full(len(column), None, dtype=object)
        converted[~missing] = _converted(name, dist, seen)
        dists[name] = dist
        values[name] = converted
    return ParamSpace(dists, pd.DataFrame(values, index=params.index, dtype=object))


def infer_distribution(seen: pd.Series) -> BaseDistribution:
    """A distribution for the (non-missing) values ``seen`` (rules in the module docstring)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    kind = pd.api.types.infer_dtype(seen, skipna=True)
    numbers = pd.to_numeric(seen, errors="coerce") if kind in ("integer", "floating", "mixed-integer-float", "decimal") else None
    if numbers is None or numbers.isna().any():
        choices = sorted({_plain(v) for v in seen}, key=lambda v: (str(type(v)), str(v)))
        return CategoricalDistribution(choices)
    low, high = float(numbers.min()), float(numbers.max())
    log = low > 0 and high / low >= LOG_RATIO
    if (numbers == np.round(numbers)).all():
        return IntDistribution(int(low), int(high), log=log)
    return FloatDistribution(low, high, log=log)


def _converted(name: str, dist: BaseDistribution, seen: pd.Series) -> list[object]:
    """``seen`` in the distribution's own types, or a ``DataError`` naming the column."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    column = "param_" + name
    if isinstance(dist, CategoricalDistribution):
        lookup = {}
        for value in pd.unique(seen):
            match = [c for c in dist.choices if _same_choice(c, value)]
            if not match:
                raise DataError(
                    f"Column {column!r} has the value {_plain(value)!r}, which is not among the choices "
                    f"{list(dist.choices)!r} of its distribution. Fix the value or pass a distribution that includes it."
                )
            lookup[value] = match[0]
        return [lookup[v] for v in seen]
    numbers = pd.to_numeric(seen, errors="coerce").to_numpy(float)
    bad = ~np.isfinite(numbers)
    if bad.any():
        raise DataError(f"Column {column!r} must be numeric for its {type(dist).__name__}; got {_plain(seen[bad].iloc[0])!r}.")
    low, high = dist.low, dist.high  # type: ignore[attr-defined]
    outside = (numbers < low) | (numbers > high)
    if outside.any():
        raise DataError(
            f"Column {column!r} has the value {_plain(seen[outside].iloc[0])!r} outside its distribution's range [{low}, {high}]. "
            "Fix the value, or pass the sweep's distributions (or none, to infer them from the table)."
        )
    if isinstance(dist, IntDistribution):
        if (numbers != np.round(numbers)).any():
            raise DataError(f"Column {column!r} must hold integers for its IntDistribution; got {_plain(seen[numbers != np.round(numbers)].iloc[0])!r}.")
        return np.round(numbers).astype(np.int64).tolist()
    return numbers.tolist()


def _same_choice(choice: object, value: object) -> bool:
    if choice is value or (type(choice) is type(value) and choice == value):
        return True
    if isinstance(choice, (int, float)) and not isinstance(choice, bool):
        try:
            return float(value) == float(choice)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
    return str(choice) == str(value)


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value
