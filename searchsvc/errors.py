"""The exception tree. Library code raises these; the CLI maps them to exit codes.

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
