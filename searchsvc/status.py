"""The statuses of trials and sweeps: what each means, in one place (MLflow's run statuses for them are the
tracker's: :mod:`searchsvc.stores.tracking`).

A trial moves ``pending → running → ok | stopped | diverged | error``; on the way it may be ``infra`` (its
worker died or ran out of memory: re-queued with the same config) or ``cancelled`` (stopped by
Ctrl-C, SIGTERM or ``cancel``). A sweep is ``running`` until it ends ``completed``, ``cancelled`` or
``failed``; ``interrupted`` is what the reconciler makes of a running sweep whose driver died.

The values are the strings stored in the ledger and shown to users; a ``StrEnum`` compares equal to
them, so rows read back as plain strings still match.
"""

from __future__ import annotations

from enum import StrEnum


class TrialStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"  # trained; scores recorded
    DIVERGED = "diverged"  # NaN/inf loss: a real result of the config, never retried, worst score in the analysis
    ERROR = "error"  # the training code raised, also on every retry; kept with its traceback
    INFRA = "infra"  # the worker died or ran out of memory: re-queued, or given up after too many restarts
    CANCELLED = "cancelled"  # stopped before it finished; ``resume`` runs it
    STOPPED = "stopped"  # early termination stopped it at a rung: its scores as of the rung, never retried

    @property
    def final(self) -> bool:
        """Done for good: ``resume`` does not run it again (every other status runs again)."""
        return self in _FINAL

    @property
    def has_result(self) -> bool:
        """It ended with an outcome the analysis counts: ok and diverged as results, error and infra counted and
        left out (the statuses of the analysis' trials table, ``analysis.table.STATUSES``)."""
        return self in _HAS_RESULT

    @property
    def usable(self) -> bool:
        """A result of its config, which the analysis ranks: ok, stopped (by its score at the stop, not a
        full-budget result), and diverged (at the worst score)."""
        return self in (TrialStatus.OK, TrialStatus.STOPPED, TrialStatus.DIVERGED)

    @property
    def scored(self) -> bool:
        """It holds validation and test scores."""
        return self in (TrialStatus.OK, TrialStatus.STOPPED)


class SweepStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # stopped by Ctrl-C, SIGTERM or ``cancel``; ``resume`` finishes it
    FAILED = "failed"  # the driver stopped on an error, or the ledger lost writes; ``resume`` finishes it
    INTERRUPTED = "interrupted"  # its driver's lease expired (the driver died or hung); ``resume`` finishes it


_FINAL = frozenset({TrialStatus.OK, TrialStatus.STOPPED, TrialStatus.DIVERGED, TrialStatus.ERROR})
_HAS_RESULT = _FINAL | {TrialStatus.INFRA}
