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


def _store() -> Any:
    store = conf.store()
    if store is None:
        raise ImproperlyConfigured(
            "No store configured: set settings.REALTIME['STORE'] to answer snapshots and resumes."
        )
    return store


async def current(route: str, key: str) -> tuple[dict[str, Any], int]:
    """The state of ``key`` and the seq it reflects; raises UnknownKey when it is unknown."""
    found = await database_sync_to_async(_store().current)(route, key)
    if found is None:
        raise UnknownKey(f"Unknown {route} id {key!r}.")
    return found


async def events_after(route: str, key: str, after_seq: int) -> list[tuple[int, str, dict]] | None:
    """Recorded events after ``after_seq`` (None: not replayable whole; use a snapshot)."""
    limit = conf.get("RESUME_MAX_EVENTS")
    return await database_sync_to_async(_store().events_after)(route, key, after_seq, limit)
