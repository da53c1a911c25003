"""The exception tree. Library code raises these; the CLI maps them to exit codes.

``experiments`` and ``analysis`` stand alone and own their errors (``experiments.errors.DataError``,
``analysis.errors.AnalysisError``); :func:`exit_code` maps those too, as invalid input (exit 2).

``SearchSvcError`` (exit 1)
├── ``UsageError``  (exit 2) — bad input from the user: a spec, a flag, a data file, a table
│   ├── ``SpecError``
│   └── ``DataError``
└── ``NotFoundError`` (exit 2) — an unknown sweep id
"""


class SearchSvcError(Exception):
    """Base of every error searchsvc raises on purpose. Exit code 1."""

    exit_code = 1


class UsageError(SearchSvcError):
    """The user's input is invalid. The message says where, what was expected, what arrived, how to fix."""

    exit_code = 2


class SpecError(UsageError):
    """A sweep spec is invalid."""


class DataError(UsageError):
    """A data set or a trials table is missing, malformed or of the wrong shape."""


class NotFoundError(UsageError):
    """A sweep or trial that the user named does not exist."""


def exit_code(error: BaseException) -> int | None:
    """The exit code for an error searchsvc or the packages it drives raised on purpose, else ``None``."""
    from analysis.errors import AnalysisError
    from experiments.errors import DataError as TrainingDataError

    if isinstance(error, SearchSvcError):
        return error.exit_code
    if isinstance(error, (AnalysisError, TrainingDataError)):
        return UsageError.exit_code
    return None
