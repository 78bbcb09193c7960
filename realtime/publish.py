"""The only producer: every broadcast, from any thread or OS process, goes through here.

Each function has an async form (``a…``), a sync form, and the sync ``…_on_commit`` form
that sends nothing if the surrounding transaction rolls back. An event for a process
instance is first recorded by the store (which numbers it), then broadcast on the channel
layer; when the layer fails (Redis down) ``PublishError`` is raised and the record stays.
"""

import asyncio
import logging
from functools import partial
from typing import Any

from django.db import transaction

from . import bridge, conf, groups, records, recovery, routes
from .exceptions import PublishError
from .protocol import broadcast_message, dumps

logger = logging.getLogger(__name__)

# A publisher must never hang on a dead Redis: give up after this many seconds.
PUBLISH_TIMEOUT = 5.0


async def apublish(route: str, topic: str, message: Any, *, key: str | None = None) -> int | None:
    """Broadcast ``message`` as event ``topic`` on ``route``; return its sequence number, if kept.

    Clients following the whole route get it; clients narrowed to ``key`` get it too, once.
    """
    event = routes.get_route(route).shape(topic, key, message)
    seq = await records.record(route, key, topic, event) if key is not None else None
    group = groups.route_group(route)
    layer = conf.channel_layer()
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT):
            # Kept for recovery first, so the offset it gets can travel with the broadcast.
            offset = await recovery.backend().append(
                route, {"key": key, "seq": seq, "event": event}
            )
            # One channel-layer message per publish: every server process following the
            # route or one of its keys is in the route group (see Hub.join), and hands the
            # broadcast to its members of both groups.
            await layer.group_send(
                group,
                broadcast_message(
                    group,
                    dumps(event),
                    topic=topic,
                    key=key,
                    seq=seq,
                    offset=offset,
                    key_group=None if key is None else groups.key_group(route, key),
                ),
            )
    except (TimeoutError, OSError, ConnectionError) as exc:
        raise PublishError(f"Could not publish {topic!r} on {route!r}: {exc!r}") from exc
    except Exception as exc:  # redis-py raises its own ConnectionError, not the built-in one
        if type(exc).__module__.startswith("redis"):
            raise PublishError(f"Could not publish {topic!r} on {route!r}: {exc!r}") from exc
        raise
    return seq


async def apublish_update(instance_id: str, message: dict[str, Any]) -> int | None:
    """A running_logger update (running_edge, task_progress, graph_data) for one instance."""
    return await apublish("running_logger", "running_logger", message, key=instance_id)


async def apublish_debug_message(instance_id: str, message: dict[str, Any]) -> int | None:
    """A debug message for one instance (``sign`` marks the debug run complete)."""
    return await apublish("running_logger", "debug_message", message, key=instance_id)


async def apublish_uia_answer(process_id: str, message: dict[str, Any]) -> int | None:
    """A UI-automation element pick for the task parameters of process ``process_id``."""
    return await apublish("uia", "uia", message, key=process_id)


def _sync(func: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return bridge.run_sync(func, *args, **kwargs)

    call.__name__ = func.__name__[1:]
    call.__doc__ = f"Synchronous form of ``{func.__name__}``: {func.__doc__}"
    return call


def _on_commit(func: Any) -> Any:
    def call(*args: Any, using: str | None = None, **kwargs: Any) -> None:
        transaction.on_commit(partial(func, *args, **kwargs), using=using)

    call.__name__ = f"{func.__name__}_on_commit"
    call.__doc__ = f"``{func.__name__}`` once the current transaction commits; nothing on rollback."
    return call


publish = _sync(apublish)
publish_update = _sync(apublish_update)
publish_debug_message = _sync(apublish_debug_message)
publish_uia_answer = _sync(apublish_uia_answer)

publish_on_commit = _on_commit(publish)
publish_update_on_commit = _on_commit(publish_update)
publish_debug_message_on_commit = _on_commit(publish_debug_message)
publish_uia_answer_on_commit = _on_commit(publish_uia_answer)
