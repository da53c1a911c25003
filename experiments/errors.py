"""The errors of what gets trained. The service (``searchsvc``) maps them to its own and to exit codes."""


class DataError(ValueError):
    """A data set is missing, malformed or of the wrong shape. The message names the file or field, what
    was expected, what arrived and how to fix it."""
