"""Async access to the configured store (see realtime.store), from the event loop."""

import logging
from typing import Any

from channels.db import database_sync_to_async

from . import conf
from .exceptions import ImproperlyConfigured, UnknownKey

logger = logging.getLogger(__name__)


async def record(route: str, key: str, topic: str, event: dict[str, Any]) -> int | None:
    """Append an event to the store and return its sequence number (None when not kept)."""
    store = conf.store()
    if store is None:
        return None
    return await database_sync_to_async(store.record)(route, key, topic, event)


async def snapshot(route: str, key: str) -> dict[str, Any]:
    """The current state of ``key``; raises UnknownKey when the store does not know it."""
    store = conf.store()
    if store is None:
        raise ImproperlyConfigured(
            "No store configured: set settings.REALTIME['STORE'] to answer 'process start'."
        )
    state = await database_sync_to_async(store.snapshot)(route, key)
    if state is None:
        raise UnknownKey(f"Unknown {route} id {key!r}.")
    return state
