"""Where the stores are: a ledger URL and a tracking URI, each parsed once into what kind of store it is.

The one place that decides a store's kind: a file on the machine that runs the driver (SQLite, MLflow's
local stores) or a server (PostgreSQL, an MLflow tracking server); whether a sweep on a cluster may use
it (servers only); and how long a server has to answer. A malformed address is a usage error (exit 2)
that names the flag and the environment variable it came from.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from searchsvc.errors import UsageError

#: seconds a database or tracking server has to answer before it counts as unreachable
CONNECT_TIMEOUT_S = 5

LEDGER_FLAG = "--ledger (or $SEARCHSVC_LEDGER)"
TRACKING_FLAG = "--tracking-uri (or $MLFLOW_TRACKING_URI)"


@dataclass(frozen=True)
class LedgerLocation:
    """A ledger database: a SQLite file or a PostgreSQL server."""

    url: str  # with the driver SQLAlchemy uses (psycopg 3 for postgresql://)
    display: str  # the URL with its password hidden, to print
    path: Path | None  # the SQLite file (None: a server, or SQLite in memory)
    is_file: bool

    @classmethod
    def parse(cls, url: str) -> LedgerLocation:
        import sqlalchemy as sa

        expected = "expected sqlite:///PATH or postgresql://USER@HOST[:PORT]/DB"
        try:
            parsed = sa.make_url(_with_driver(url))
            parsed.port  # noqa: B018 - a port that is no number fails here, not at connect time
        except (sa.exc.ArgumentError, ValueError) as e:
            raise UsageError(f"{LEDGER_FLAG}: {url!r} is not a database URL ({e}); {expected}") from None
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise UsageError(f"{LEDGER_FLAG}: {backend} databases are not supported, got {url!r}; {expected}")
        is_file = backend == "sqlite"
        path = Path(parsed.database).expanduser().absolute() if is_file and parsed.database not in (None, "", ":memory:") \
            else None
        return cls(parsed.render_as_string(hide_password=False), parsed.render_as_string(hide_password=True), path,
                   is_file)

    def present(self) -> bool:
        """Whether the store may already exist (a server's database is asked when it is opened)."""
        return not self.is_file or self.path is None or self.path.exists()

    def make_folder(self) -> None:
        """The SQLite file's folder, created if new; a folder that cannot be made is a usage error."""
        if self.path is not None:
            make_folder(self.path, LEDGER_FLAG)

    def check_cluster_use(self) -> None:
        """A sweep on a cluster records where the cluster's driver and your machine both reach: a server."""
        if self.is_file:
            raise UsageError(f"ledger: {self.display} is a file on the machine that runs the driver; a sweep on a "
                             "cluster records into a database server that the cluster and your machine reach, e.g. "
                             "postgresql://user@host/db (SEARCHSVC_LEDGER on the cluster's nodes, or --ledger)")


@dataclass(frozen=True)
class TrackingLocation:
    """An MLflow tracking store: a local one (a SQLite file, a folder) or a tracking server."""

    uri: str
    path: Path | None  # the SQLite file of a local SQLite store
    is_server: bool

    @classmethod
    def parse(cls, uri: str) -> TrackingLocation:
        expected = "expected a URI like http://host:5000 or sqlite:///PATH"
        if "://" not in uri and not uri.startswith(("databricks", "file:")):
            raise UsageError(f"{TRACKING_FLAG}: {expected}, got {uri!r}")
        scheme = urllib.parse.urlsplit(uri).scheme
        if scheme in ("http", "https"):
            parts = urllib.parse.urlsplit(uri)
            try:
                parts.port  # noqa: B018 - a port that is no number fails here, not at the first request
            except ValueError as e:
                raise UsageError(f"{TRACKING_FLAG}: {uri!r} is not a server address ({e}); {expected}") from None
            if not parts.hostname:
                raise UsageError(f"{TRACKING_FLAG}: {uri!r} names no host; {expected}")
            return cls(uri, None, True)
        path = Path(uri.removeprefix("sqlite:///")).expanduser() if uri.startswith("sqlite:///") else None
        return cls(uri, path, False)

    def make_folder(self) -> None:
        if self.path is not None:
            make_folder(self.path, TRACKING_FLAG)

    @property
    def artifact_root(self) -> Path | None:
        """Where a local SQLite store keeps artifacts: beside its database."""
        return self.path.expanduser().resolve().parent / "mlartifacts" if self.path is not None else None

    def check_cluster_use(self) -> None:
        if not self.is_server:
            raise UsageError(f"tracking URI: {self.uri} is a file on the machine that runs the driver; a sweep on a "
                             "cluster records into an MLflow tracking server that the cluster and your machine "
                             "reach, e.g. http://mlflow:5000 (MLFLOW_TRACKING_URI on the cluster's nodes, or "
                             "--tracking-uri)")


def make_folder(path: Path, flag: str) -> None:
    """A store file's folder, created if new; a folder that cannot be made is a usage error naming ``flag``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{flag}: cannot make the folder of {path} ({e.strerror or e}); give a path this user may "
                         "write") from None


def _with_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the driver we install), not SQLAlchemy's psycopg2 default."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url
