"""The garbage collector tuned for a server process that holds thousands of connections.

Every open connection keeps about 200 container objects alive (uvicorn's or daphne's
protocol, Engine.IO's socket and tasks, our session and outbox) for as long as it is open.
With CPython's default thresholds (700, 10, 10) the collector walks all of them again and
again while connections arrive: in the benchmark, 5,000 socket.io handshakes on one core
spent 3.6 s in the collector (13 full collections), about half of their CPU time, and
connected at 636/s. Collecting young objects a hundred and forty times less often and
freezing what startup built (Django's apps, URL conf, modules: never garbage) left 0.7 s
and 1,024 handshakes/s. Cycles are still collected, in fewer and larger passes (a young
collection of 100,000 objects takes about 50 ms on this machine).
"""

import gc
import logging

from . import conf
from .exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

_tuned = False


def tune_for_connections() -> None:
    """Apply ``REALTIME["GC_THRESHOLDS"]`` and freeze startup objects, once per process.

    Called when the ASGI application is built, i.e. only in processes that serve clients
    (never in a publisher or a management command).
    """
    global _tuned
    thresholds = conf.get("GC_THRESHOLDS")
    if _tuned or thresholds is None:
        return
    if not _valid(thresholds):
        raise ImproperlyConfigured(
            f'settings.REALTIME["GC_THRESHOLDS"] = {thresholds!r}: give one to three '
            "non-negative integers, as gc.set_threshold() takes, or None to keep Python's."
        )
    _tuned = True
    gc.collect()  # so no garbage of startup is frozen with the rest
    gc.freeze()
    gc.set_threshold(*thresholds)
    logger.debug("gc thresholds %s; %d startup objects frozen", thresholds, gc.get_freeze_count())


def _valid(thresholds: object) -> bool:
    return (
        isinstance(thresholds, list | tuple)
        and 1 <= len(thresholds) <= 3
        and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in thresholds)
    )
