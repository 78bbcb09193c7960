"""Run the async API from synchronous code, on the server's own event loop when there is one.

Why: a thread of a server process (a view, a runner thread) must publish through the same
loop that owns the channel layer's connections, or the in-memory layer (asyncio queues,
not thread-safe) would never wake its receiver and channels-redis would open a new pool
for a short-lived loop on every call.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asgiref.sync import async_to_sync

from . import shutdown

logger = logging.getLogger(__name__)
T = TypeVar("T")

_home_loop: asyncio.AbstractEventLoop | None = None


def set_home_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the loop that serves this process's connections (called by the hub)."""
    global _home_loop
    _home_loop = loop


def home_loop() -> asyncio.AbstractEventLoop | None:
    """The serving loop of this process, if it is alive."""
    if _home_loop is not None and _home_loop.is_running() and not _home_loop.is_closed():
        return _home_loop
    return None


def run_sync(func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Call async ``func`` from sync code and return its result."""
    loop = home_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    with shutdown.busy():  # a graceful shutdown waits for this call (a publish, a sign)
        if loop is not None and running is not loop:
            return asyncio.run_coroutine_threadsafe(func(*args, **kwargs), loop).result()
        return async_to_sync(func)(*args, **kwargs)
