"""searchsvc: random-search experiment service for LSTM hyperparameters.

The package by concern, data flowing one way (spec → configs → Ray → trainable → results → stores):

* :mod:`searchsvc.sweep`: what a sweep is (spec, space, configs, costs, data set); no Ray, SQL or MLflow;
* :mod:`searchsvc.stores`: the ledger, the lease and MLflow, the only SQL and MLflow; no Ray;
* :mod:`searchsvc.run`: the driver, bundles, the worker and their recording, the only Ray;
* :mod:`searchsvc.cli`: the command line; and beside them the errors, the statuses, the home folder and
  :mod:`searchsvc.analyze`, the analysis applied to a sweep.
"""

from searchsvc.errors import DataError, NotFoundError, SearchSvcError, SpecError, UsageError

__version__ = "0.1.0"
__all__ = ["DataError", "NotFoundError", "SearchSvcError", "SpecError", "UsageError", "__version__"]
