"""Where searchsvc keeps its state by default: one home directory.

``$SEARCHSVC_HOME`` (default ``~/.searchsvc``) holds the ledger (``ledger.db``), the MLflow store
(``mlflow.db`` + ``mlartifacts/``), Ray Tune's working files (``ray/``) and generated data sets
(``datasets/``, made once, read by every later sweep). Each can be overridden by
a CLI flag; the MLflow store also by the standard ``MLFLOW_TRACKING_URI``.
"""

from __future__ import annotations

import os
from pathlib import Path


def home_dir() -> Path:
    return Path(os.environ.get("SEARCHSVC_HOME") or Path.home() / ".searchsvc").expanduser()


def default_ledger_url() -> str:
    return os.environ.get("SEARCHSVC_LEDGER") or f"sqlite:///{home_dir() / 'ledger.db'}"


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home_dir() / 'mlflow.db'}"


def ray_dir() -> Path:
    return home_dir() / "ray"


def datasets_dir() -> Path:
    return home_dir() / "datasets"
