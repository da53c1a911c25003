"""The ``searchsvc`` command line (see :mod:`searchsvc.cli.group`); importing it registers every command."""

from searchsvc.cli import analysis, records, running  # noqa: F401 - each registers its commands on the group
from searchsvc.cli.group import cli, main

__all__ = ["cli", "main"]
