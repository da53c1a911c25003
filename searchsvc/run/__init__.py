"""Running a sweep on Ray: the driver, where trials run, bundles of trials, the worker, and their recording.

Owns: one run of a sweep from taking it to its outcome (:mod:`.driver`), the Ray this process uses and
what a trial asks of it (:mod:`.cluster`), bundles handed out to Tune (:mod:`.bundles`), what crosses Ray
between driver and worker (:mod:`.protocol`), the worker (:mod:`.worker`), the Tune callbacks that
record trials (:mod:`.recorder`, writing through :mod:`.writers`) and show progress (:mod:`.progress`),
and sweeps submitted to a cluster through the Jobs API (:mod:`.jobs`).

May import: :mod:`searchsvc.sweep`, :mod:`searchsvc.stores` (never SQLAlchemy or MLflow themselves),
``experiments`` (the trainable) and Ray, the only package that does.
"""

from searchsvc.exports import lazy

_NAMES = {"submit": "driver", "resume": "driver", "extend": "driver", "SweepOutcome": "driver", "Job": "driver"}
__all__ = sorted(_NAMES)
__getattr__ = lazy(__name__, _NAMES)
