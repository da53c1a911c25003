"""Early-termination rules: where they decide (rungs) and what they decide there (continue or stop).

A rule sees, at a rung of ``r`` epochs, one number per trial: its *rung value*, the best validation
score it reached in epochs 1..r, oriented so that larger is better (× −1 for ``mode="min"``). It is
what the trial records if it is stopped there, and it never falls as r grows. A trial k is judged
against the values of the trials before it in trial-index order only (j < k), never a later one, so
that its decision is the one a single worker running the trials one after another would make
(:mod:`analysis.rung_board` keeps that true at any concurrency).

``Asha(min_epochs, eta)``
    Rungs at ``min_epochs · eta^i < max_epochs``. The population of a rung: the values of the earlier
    trials that trained to it (stopped there or later included; those that ended or were stopped
    before it have none). With n such values and m = n + 1 counting the trial's own, and b of them
    strictly better than its value: it continues iff ``m < eta`` (too few results to cut) or
    ``eta · (b + 1) ≤ m``, i.e. its rank, ties counted in its favour, is within the top 1/eta.
``Median(min_epochs, min_trials=3)``
    Rungs at every epoch ``min_epochs ≤ r < max_epochs``. The population: every earlier trial's
    standing as of epoch r: its rung value if it trained to r; otherwise its recorded result, the
    best score up to its stop or its end (−∞ for a diverged trial; none for a failed one). It
    continues iff fewer than ``min_trials`` standings exist, or its value is not below their median
    (the mean of the middle two for an even count).

No rule decides at ``max_epochs`` (stopping there saves nothing), and a stop at the epoch where a
trial ends anyway (by ``patience``) is void: it keeps its own result and status.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from enum import Enum
from typing import ClassVar

from analysis.errors import RuleError

RULE_TYPES = ("asha", "median")
_EXAMPLES = "e.g. {type: asha, min_epochs: 2, eta: 3} or 'median:min_epochs=3'"


class Decision(str, Enum):
    """What a trial does at a rung: go on training, stop there, or wait for earlier trials to get there."""

    CONTINUE = "continue"
    STOP = "stop"
    WAIT = "wait"


@dataclass(frozen=True)
class _Rule:
    """What every rule has: the epochs a trial trains before its first rung."""

    min_epochs: int

    def check(self, max_epochs: int, where: str = "early_terminate") -> None:
        """Raise ``RuleError`` unless a rung lies before ``max_epochs``."""
        if self.min_epochs >= max_epochs:
            raise RuleError(
                f"{where}.min_epochs: expected fewer than max_epochs ({max_epochs}) so that a rung lies before the end "
                f"of training; got {self.min_epochs}. Lower min_epochs, or raise training.max_epochs."
            )


@dataclass(frozen=True)
class Asha(_Rule):
    """Asynchronous successive halving: at each rung keep the top 1/eta (module docstring)."""

    eta: int = 3
    type: ClassVar[str] = "asha"
    #: whether trials that ended before a rung count there with their result (the median's standings)
    carry_forward: ClassVar[bool] = False

    def rungs(self, max_epochs: int) -> tuple[int, ...]:
        """The epochs ``min_epochs · eta^i`` below ``max_epochs``."""
        out, rung = [], self.min_epochs
        while rung < max_epochs:
            out.append(rung)
            rung *= self.eta
        return tuple(out)

    def keeps(self, value: float, earlier: Sequence[float]) -> bool:
        """Whether a trial of rung value ``value`` continues beside ``earlier`` (sorted ascending)."""
        m = len(earlier) + 1
        better = len(earlier) - bisect_right(earlier, value)
        return m < self.eta or self.eta * (better + 1) <= m


@dataclass(frozen=True)
class Median(_Rule):
    """Median stopping: stop a trial whose best so far is below the median standing (module docstring)."""

    min_trials: int = 3
    type: ClassVar[str] = "median"
    carry_forward: ClassVar[bool] = True

    def rungs(self, max_epochs: int) -> tuple[int, ...]:
        """Every epoch from ``min_epochs`` to ``max_epochs − 1``."""
        return tuple(range(self.min_epochs, max_epochs))

    def keeps(self, value: float, earlier: Sequence[float]) -> bool:
        """Whether a trial of rung value ``value`` continues beside the standings ``earlier`` (sorted ascending)."""
        n = len(earlier)
        if n < self.min_trials:
            return True
        middle = earlier[n // 2] if n % 2 else (earlier[n // 2 - 1] + earlier[n // 2]) / 2
        return not value < middle


Rule = Asha | Median
_RULES: dict[str, type[Asha] | type[Median]] = {"asha": Asha, "median": Median}
#: the lower bound of each parameter, and what it means
_BOUNDS = {"min_epochs": (1, "epochs before the first rung"), "eta": (2, "the reduction factor: keep the top 1/eta"),
           "min_trials": (1, "earlier trials needed for a median")}


def spec_text(rule: Rule) -> str:
    """The rule in the ``--what-if`` spelling, e.g. ``asha:min_epochs=2,eta=3``."""
    return f"{rule.type}:" + ",".join(f"{f.name}={getattr(rule, f.name)}" for f in fields(rule))


def as_mapping(rule: Rule) -> dict[str, object]:
    """The rule as a spec block, e.g. ``{"type": "asha", "min_epochs": 2, "eta": 3}``."""
    return {"type": rule.type, **{f.name: getattr(rule, f.name) for f in fields(rule)}}


def parse_rule(source: str | Mapping[str, object] | Rule, *, max_epochs: int | None = None,
               where: str = "early_terminate") -> Rule:
    """A rule from a spec block (``{type: asha, min_epochs: 2, eta: 3}``), its text form
    (``"asha:min_epochs=2,eta=3"``) or a rule; checked against ``max_epochs`` when given.

    ``where`` names the input in messages (``early_terminate``, ``--what-if``). Raises
    :class:`~analysis.errors.RuleError`, one line naming the field: an unknown type or key, a missing
    or non-integer value, ``eta`` < 2, ``min_epochs`` or ``min_trials`` < 1, ``min_epochs`` ≥ ``max_epochs``.
    """
    if isinstance(source, (Asha, Median)):
        rule = source
    else:
        block = _text_block(source, where) if isinstance(source, str) else source
        if not isinstance(block, Mapping):
            raise RuleError(f"{where}: expected a mapping with a 'type' ({_EXAMPLES}); got {source!r}.")
        rule = _rule(block, where)
    if max_epochs is not None:
        rule.check(max_epochs, where)
    return rule


def _text_block(text: str, where: str) -> dict[str, object]:
    kind, _, rest = text.strip().partition(":")
    block: dict[str, object] = {"type": kind.strip()}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, value = (s.strip() for s in item.partition("="))
        if not equals or not key:
            raise RuleError(f"{where}: expected key=value after '{kind}:', got {item!r} in {text!r} ({_EXAMPLES}).")
        if key in block:
            raise RuleError(f"{where}.{key}: given twice in {text!r}; give each parameter once.")
        block[key] = int(value) if re.fullmatch(r"[+-]?\d+", value) else value
    return block


def _rule(block: Mapping[str, object], where: str) -> Rule:
    kind = block.get("type")
    if kind not in _RULES:
        hint = " (W&B's hyperband early termination is asha here)" if kind == "hyperband" else ""
        got = "nothing" if kind is None else repr(kind)
        raise RuleError(f"{where}.type: expected one of {', '.join(RULE_TYPES)}{hint}; got {got} ({_EXAMPLES}).")
    cls = _RULES[str(kind)]
    names = [f.name for f in fields(cls)]
    for key in block:
        if key != "type" and key not in names:
            raise RuleError(f"{where}.{key}: not a parameter of {kind}; expected {', '.join(names)} ({_EXAMPLES}).")
    values = {}
    for f in fields(cls):
        if f.name not in block:
            if f.default is not MISSING:
                continue
            raise RuleError(f"{where}.{f.name}: missing; {kind} needs {f.name} ({_BOUNDS[f.name][1]}), {_EXAMPLES}.")
        values[f.name] = _integer(block[f.name], f"{where}.{f.name}", *_BOUNDS[f.name])
    return cls(**values)


def _integer(value: object, field: str, low: int, meaning: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleError(f"{field}: expected an integer ≥ {low} ({meaning}); got {value!r}. Write a whole number.")
    if value < low:
        raise RuleError(f"{field}: expected an integer ≥ {low} ({meaning}); got {value}. Raise it to at least {low}.")
    return value

