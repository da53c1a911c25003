"""The ``searchsvc`` command line: running sweeps (:mod:`.running`), reading their records (:mod:`.records`),
analysing them (:mod:`.analysis`), one group with the shared options and the exit codes (:mod:`.group`),
and what they print (:mod:`.texts`). Importing it registers every command.

May import: every package of searchsvc, ``analysis`` and ``experiments``, each inside the command that needs
it, so that ``searchsvc --help`` loads no heavy package. Never Ray, SQLAlchemy or MLflow directly.
"""

from searchsvc.cli import analysis, records, running  # noqa: F401 - each registers its commands on the group
from searchsvc.cli.group import cli, entry, main

__all__ = ["cli", "entry", "main"]
