"""searchsvc: random-search experiment service for LSTM hyperparameters."""

from searchsvc.errors import DataError, NotFoundError, SearchSvcError, SpecError, UsageError

__version__ = "0.1.0"
__all__ = ["DataError", "NotFoundError", "SearchSvcError", "SpecError", "UsageError", "__version__"]
