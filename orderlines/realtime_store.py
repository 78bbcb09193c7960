"""The realtime app's RunStore for orderlines: numbered running logs and instance snapshots.

Named by ``settings.REALTIME['STORE']``; the realtime app calls it from a thread, before it
broadcasts, so an event is in the database even when the channel layer then fails.
"""

import logging
from typing import Any

from django.db import transaction

from realtime.exceptions import UnknownKey

from .models import ProcessInstance, RunningLog

logger = logging.getLogger(__name__)

ROUTE = "running_logger"


class ProcessRunStore:
    """Keeps running_logger events of process instances; other routes (uia) are not kept."""

    def record(self, route: str, key: str, topic: str, event: dict[str, Any]) -> int | None:
        """Append ``event`` to the instance's RunningLog and return its seq (1, 2, 3… no gaps)."""
        if route != ROUTE:
            return None
        # One transaction holds the instance row lock from reading log_seq until the new row
        # is committed, so concurrent writers (threads or OS processes) queue up instead of
        # taking the same number. PostgreSQL: SELECT … FOR UPDATE. SQLite ignores FOR UPDATE,
        # but settings open every transaction IMMEDIATE, which takes the database write lock.
        with transaction.atomic():
            instance = (
                ProcessInstance.objects.select_for_update()
                .only("pk", "log_seq")
                .filter(process_instance_id=key)
                .first()
            )
            if instance is None:
                raise UnknownKey(f"Unknown process_instance_id {key!r}.")
            seq = instance.log_seq + 1
            ProcessInstance.objects.filter(pk=instance.pk).update(log_seq=seq)
            RunningLog.objects.create(instance_id=instance.pk, seq=seq, topic=topic, payload=event)
        return seq

    def snapshot(self, route: str, key: str) -> dict[str, Any] | None:
        """The instance's current state as one running_logger update message; None if unknown."""
        if route != ROUTE:
            return None
        instance = (
            ProcessInstance.objects.only("running_edge", "task_progress", "graph_snapshot")
            .filter(process_instance_id=key)
            .first()
        )
        return None if instance is None else instance.as_update()
