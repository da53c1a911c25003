"""Where sweeps and trials are recorded: the ledger (the system of record) and MLflow (the dashboard).

Owns: the stores' addresses and kinds (:mod:`.locations`, the one place that tells a file from a
server); the ledger's typed records (:mod:`.records`), its tables and database (:mod:`.schema`) and its
API (:mod:`.ledger`); the lease that makes one driver a sweep's owner (:mod:`.lease`); MLflow's runs,
tags and statuses (:mod:`.tracking`, with :mod:`.mlflow_sql` for a short trial's run in one
transaction); making MLflow whole from the ledger (:mod:`.reconcile`); and the ledger as the analysis'
table (:mod:`.export`).

May import: :mod:`searchsvc.sweep`, ``experiments`` (a result's fields), SQLAlchemy and MLflow, the only
package that does. Never Ray.
"""

from searchsvc.exports import lazy

_NAMES = {"Ledger": "ledger", "get_ledger": "ledger", "SweepRecord": "records", "TrialRecord": "records",
          "Node": "records", "best_trial": "records", "Lease": "lease", "LeaseLost": "lease", "Owned": "lease",
          "Tracker": "tracking", "get_tracker": "tracking", "LedgerLocation": "locations",
          "TrackingLocation": "locations"}
__all__ = sorted(_NAMES)
__getattr__ = lazy(__name__, _NAMES)
