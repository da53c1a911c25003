"""The errors of the analysis library. The service (``searchsvc``) maps them to its own and to exit codes."""


class AnalysisError(ValueError):
    """The input of an analysis is invalid. The message says where, what was expected, what arrived and
    how to fix it."""


class DataError(AnalysisError):
    """A trials table is missing, malformed or of the wrong shape."""


class UsageError(AnalysisError):
    """An argument of an analysis is invalid (a direction, a reference line, a comparison)."""


class RuleError(AnalysisError):
    """An early-termination rule (a spec's ``early_terminate`` block, a ``--what-if``) is invalid."""
