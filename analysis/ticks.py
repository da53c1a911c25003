"""Readable ticks for the figures: few, round, plain-text labels that never overlap.

* Log axes get ticks from the first of these sequences with at least three values in view: for
  base 2 (counts, integer parameters such as units) powers of two, then 2^k and 1.5·2^k, then
  1-2-5 × 10^k; for base 10 powers of ten, then 1-2-5 × 10^k; last 1…9 × 10^k. Thinned to at most
  ``MAX_TICKS``, then to every k-th where the labels would not fit, and labelled ``16``, ``0.005``
  (no mathtext, no minor ticks: both are slow, and 10^x labels are harder to read for these ranges).
* Axes of a few distinct values (``layers``, ``batch_size``, experiment sizes s) are ticked at
  those values only where their labels fit between neighbours; otherwise matplotlib's default
  locator picks round values.

Call these after the data are drawn: ticks are chosen from the axis's limits at that moment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis

MAX_TICKS = 7
_CHAR_INCHES = 0.085  # width of one tick-label character at the default 10 pt font
_GAP_INCHES = 0.12  # white space wanted between two tick labels


def log_ticks(low: float, high: float, base: float = 10) -> np.ndarray:
    """Round tick values within [low, high] (both > 0) for a log axis (module docstring)."""
    if not (0 < low <= high and math.isfinite(high)):
        raise ValueError(f"a log axis needs limits 0 < low <= high, got {low} and {high}.")
    decades = 10.0 ** np.arange(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)

    def powers(b: float) -> np.ndarray:
        return float(b) ** np.arange(math.floor(math.log(low, b)), math.ceil(math.log(high, b)) + 1)

    if base == 2:
        candidates = (powers(2), np.outer(powers(2), [1, 1.5]).ravel(), np.outer(decades, [1, 2, 5]).ravel())
    else:
        candidates = (powers(base), np.outer(decades, [1, 2, 5]).ravel())
    candidates += (np.outer(decades, np.arange(1, 10)).ravel(),)

    def within(values: np.ndarray) -> np.ndarray:
        values = np.array([float(f"{v:.12g}") for v in values])  # 1e-05, not 10.0 ** -5 = 9.999999999999999e-06
        return np.unique(values[(values >= low * (1 - 1e-9)) & (values <= high * (1 + 1e-9))])

    for values in candidates:
        if len(within(values)) >= 3:
            return within(values)[:: -(-len(within(values)) // MAX_TICKS)]
    if len(within(candidates[-1])) == 2:  # two of 1…9 × 10^k
        return within(candidates[-1])
    return within(np.array([float(f"{v:.2g}") for v in np.geomspace(low, high, 3)]))  # narrower still: two digits


def log_axis(ax: Axes, which: str = "x", base: float = 10) -> None:
    """Log scale on ``ax``'s x or y axis with :func:`log_ticks` and plain labels (``16``, ``0.005``)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    (ax.set_xscale if which == "x" else ax.set_yscale)("log", base=base)
    axis = _axis(ax, which)
    low, high = sorted(axis.get_view_interval())
    ticks = [float(v) for v in log_ticks(low, high, base)]
    if not value_ticks(ax, ticks, [f"{v:g}" for v in ticks], which, thin=True):
        axis.set_major_locator(FixedLocator(ticks))  # a single tick that does not fit the axis: keep it
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


def value_ticks(ax: Axes, values: Sequence[float], labels: Sequence[str], which: str = "x", *, thin: bool = False) -> bool:
    """Tick ``ax`` at ``values`` with ``labels`` if every label fits between its neighbours; returns whether it did.

    With ``thin`` every k-th value is ticked instead, for the smallest k at which the labels fit.
    """
    order = np.argsort(values)
    for step in range(1, len(order) + 1) if thin else (1,):
        chosen = order[::step]
        if _fit(ax, which, [values[i] for i in chosen], [labels[i] for i in chosen]):
            from matplotlib.ticker import NullLocator

            (ax.set_xticks if which == "x" else ax.set_yticks)([values[i] for i in chosen], [labels[i] for i in chosen])
            _axis(ax, which).set_minor_locator(NullLocator())
            return True
    return False


def _fit(ax: Axes, which: str, values: list[float], labels: list[str]) -> bool:
    """Whether ``labels`` at the sorted ``values`` leave a gap between neighbours on ``ax`` as drawn."""
    axis = _axis(ax, which)
    where = np.asarray(values, dtype=float)
    low, high = sorted(axis.get_view_interval())
    if axis.get_scale() == "log":
        where, low, high = np.log(where), math.log(low), math.log(high)
    box = ax.get_position()
    length = box.width * ax.figure.get_size_inches()[0] if which == "x" else box.height * ax.figure.get_size_inches()[1]
    inches = (where - low) / (high - low) * length
    sizes = np.array([len(label) * _CHAR_INCHES if which == "x" else 0.15 for label in labels])
    return len(values) <= 2 * MAX_TICKS and bool(np.all(np.diff(inches) >= (sizes[1:] + sizes[:-1]) / 2 + _GAP_INCHES))


def _axis(ax: Axes, which: str) -> Axis:
    if which not in ("x", "y"):
        raise ValueError(f"which must be 'x' or 'y', got {which!r}.")
    return ax.xaxis if which == "x" else ax.yaxis
