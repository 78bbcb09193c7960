"""Graceful shutdown on SIGTERM: stop accepting, send clients elsewhere, finish work, exit.

What the servers do alone (measured, see docs/reliability.md): daphne stops its reactor and
drops open WebSockets without a close frame; uvicorn closes them with 1012 but knows nothing
of socket.io sessions over long-polling. So on the first SIGTERM this module, installed by
the first hub of the process (main thread only):

1. refuses new realtime connections (``ShuttingDown``: close 1012 / socket.io connect error);
2. closes every local connection: plain WebSocket with 1012 ("service restart"), socket.io by
   closing its Engine.IO session, which socket.io clients treat as a transport loss and so
   reconnect (a socket.io DISCONNECT packet would tell them *not* to);
3. waits for in-flight client messages and publishes (``busy``), at most ``SHUTDOWN_TIMEOUT``;
4. hands the signal to the server's own handler, which stops it.
"""

import asyncio
import contextlib
import logging
import os
import signal
import threading
import weakref
from collections.abc import Iterator
from typing import Any, Protocol

from . import collector, conf
from .exceptions import ShuttingDown

logger = logging.getLogger(__name__)


class Closable(Protocol):
    """A local connection that can be told to reconnect elsewhere."""

    async def close_for_shutdown(self) -> None:
        """Flush what is queued (briefly), then close so the client reconnects."""


_connections: "weakref.WeakSet[Any]" = weakref.WeakSet()
_state = {"draining": False, "installed": False}
# Work in flight, counted from the loop and from threads (sync publishes), hence a lock.
_busy = {"count": 0}
_busy_lock = threading.Lock()


def register(connection: Closable) -> None:
    """Track ``connection`` so a shutdown can close it."""
    _connections.add(connection)


def unregister(connection: Closable) -> None:
    """Stop tracking ``connection``, which has closed (the collector counts it once)."""
    if connection in _connections:
        _connections.discard(connection)
        collector.connection_closed(len(_connections))


def open_connections() -> int:
    """How many local connections are open (registered and not yet unregistered)."""
    return len(_connections)


def draining() -> bool:
    """True once a shutdown has begun."""
    return bool(_state["draining"])


def check_accepting() -> None:
    """Raise ShuttingDown once a shutdown has begun."""
    if _state["draining"]:
        raise ShuttingDown("This server is restarting: connect again.")


@contextlib.contextmanager
def busy() -> Iterator[None]:
    """Mark work a shutdown must wait for (a client message, a publish from a thread)."""
    with _busy_lock:
        _busy["count"] += 1
    try:
        yield
    finally:
        with _busy_lock:
            _busy["count"] -= 1


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Chain a SIGTERM handler in front of the server's; once, from the main thread only."""
    if _state["installed"] or not conf.get("SHUTDOWN_ON_SIGTERM"):
        return
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        if _state["draining"]:  # a second SIGTERM: no more waiting
            _hand_over(previous, signum)
            return
        _state["draining"] = True
        loop.call_soon_threadsafe(lambda: loop.create_task(_drain_then(previous, signum)))

    signal.signal(signal.SIGTERM, on_sigterm)
    _state["installed"] = True
    logger.debug("Realtime graceful-shutdown hook installed")


async def drain(timeout: float | None = None) -> int:
    """Close every local connection and wait for in-flight work; returns how many closed."""
    _state["draining"] = True
    timeout = conf.get("SHUTDOWN_TIMEOUT") if timeout is None else timeout
    connections = list(_connections)
    logger.info("Shutting down: closing %d realtime connection(s)", len(connections))
    closing = [asyncio.ensure_future(c.close_for_shutdown()) for c in connections]
    if closing:
        await asyncio.wait(closing, timeout=timeout)
    # Polled, not awaited: the count also moves in threads that cannot wake the loop.
    deadline = asyncio.get_running_loop().time() + timeout
    while _busy["count"] and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return len(connections)


async def _drain_then(previous: Any, signum: int) -> None:
    try:
        await drain()
    except Exception:
        logger.exception("Graceful shutdown failed; stopping anyway")
    _hand_over(previous, signum)


def _hand_over(previous: Any, signum: int) -> None:
    signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    if callable(previous):
        previous(signum, None)
    elif previous in (signal.SIG_DFL, None):
        os.kill(os.getpid(), signum)
