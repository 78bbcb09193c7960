"""The garbage collector tuned for a server process that holds thousands of connections.

Every open connection keeps about 200 container objects alive (uvicorn's or daphne's
protocol, Engine.IO's socket and tasks, our session and outbox) for as long as it is open.
With CPython's default thresholds (700, 10, 10) the collector walks all of them again and
again while connections arrive: in the benchmark, 5,000 socket.io handshakes on one core
spent 3.6 s in the collector (13 full collections), about half of their CPU time, and
connected at 636/s. What costs is the full collections, so the oldest generation's
threshold is what is raised: a full collection at most every 100 middle-generation ones
(CPython also waits until the objects promoted since the last one are a quarter of those
it holds), none at all during 10,000 handshakes. Young collections stay small and frequent:
a young collection walks only what is young, and walking 2,000 objects in cache costs less
than walking 100,000 out of it. Measured with 10,000 socket.io handshakes on one core
(2026-11-24): (100000, 20, 10), the previous default, spent 2.2-2.4 s in the collector, with
a 1.0-1.2 s pause for its one middle-generation collection; (2000, 10, 100) spent 0.8-1.2 s,
its longest pause 8-13 ms; Python's (700, 10, 10) spent 6.8 s, 5.9 of them in 12 full
collections. Freezing what startup built (Django's apps, URL conf, modules: never garbage)
keeps it out of every collection.

But a closed connection leaves about 100 of its objects in reference cycles (asyncio
tasks, futures, frames), which only a collection of the generation they live in frees, and
long-lived connections live in the oldest one. With such rare collections, a server whose
clients come and go would keep that garbage for hundreds of thousands of connections
(measured: 210,000 unreachable objects after 2,000 socket.io connections came and went).
So closed connections trigger full collections, but never during a storm of arrivals: one
after ``SWEEP_AFTER_CLOSED`` closes, or after as many closes as connections are still open
if that is more. A full collection walks every live object, so its cost grows with the open
connections (0.4-0.7 s with 5,000-10,000 open here, even when it finds nothing to free);
sweeping every 1,000 closes made 10,000 clients leaving together cost ten of them, 6.8 s
(bench/micro/storm.py), and a storm of 5,000 spent 1.25 s of 1.7 s in them. Scaled to
what is open, each close pays a constant share of the sweeps, and the garbage waiting for
one stays below a quarter of the live objects (~100 per closed connection against ~400 per
open one): the bound CPython's own rule for full collections keeps.
"""

import asyncio
import gc
import logging

from . import conf
from .exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

SWEEP_AFTER_CLOSED = 1000

_tuned = False
_closed = 0


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


def connection_closed(still_open: int) -> None:
    """Count a closed connection (``still_open``: how many remain); collect fully (soon
    after) once as many have closed, and at least ``SWEEP_AFTER_CLOSED``.

    Called by ``realtime.shutdown.unregister``, which keeps the count of open connections.
    """
    global _closed
    if not _tuned:
        return
    _closed += 1
    if _closed >= max(SWEEP_AFTER_CLOSED, still_open):
        _closed = 0
        asyncio.get_running_loop().call_soon(gc.collect)  # not inside a disconnect handler


def _valid(thresholds: object) -> bool:
    return (
        isinstance(thresholds, list | tuple)
        and 1 <= len(thresholds) <= 3
        and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in thresholds)
    )
