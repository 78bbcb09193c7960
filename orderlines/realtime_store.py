"""The realtime app's RunStore for orderlines: numbered running logs and instance snapshots.

Named by ``settings.REALTIME['STORE']``; the realtime app calls it from a thread, before it
broadcasts, so an event is in the database even when the channel layer then fails.
"""

import logging
from typing import Any

from django.db import connections, router, transaction
from django.utils import timezone

from realtime.exceptions import UnknownKey

from .models import ProcessInstance, RunningLog

logger = logging.getLogger(__name__)

ROUTE = "running_logger"


def _next_seq_sql() -> str:
    meta = ProcessInstance._meta
    table, seq = meta.db_table, meta.get_field("log_seq").column
    pk, key = meta.pk.column, meta.get_field("process_instance_id").column
    # UPDATE ... RETURNING: PostgreSQL, and SQLite from 3.35.
    return (
        f'UPDATE "{table}" SET "{seq}" = "{seq}" + 1 WHERE "{key}" = %s RETURNING "{pk}", "{seq}"'
    )


_NEXT_SEQ_SQL = _next_seq_sql()
# The columns ProcessRunStore.record writes, as model fields (they adapt the values).
_LOG_FIELDS = tuple(
    RunningLog._meta.get_field(name)
    for name in ("instance", "seq", "topic", "payload", "created_at")
)


def _insert_log_sql() -> str:
    columns = ", ".join(f'"{field.column}"' for field in _LOG_FIELDS)
    values = ", ".join(["%s"] * len(_LOG_FIELDS))
    return f'INSERT INTO "{RunningLog._meta.db_table}" ({columns}) VALUES ({values})'


_INSERT_LOG_SQL = _insert_log_sql()


def _log_row(connection: Any, instance_pk: int, seq: int, topic: str, event: Any) -> list[Any]:
    """The INSERT's parameters, each adapted by its model field as the ORM would."""
    values = (instance_pk, seq, topic, event, timezone.now())
    return [
        field.get_db_prep_save(value, connection)
        for field, value in zip(_LOG_FIELDS, values, strict=True)
    ]


class ProcessRunStore:
    """Keeps running_logger events of process instances; other routes (uia) are not kept."""

    def record(self, route: str, key: str, topic: str, event: dict[str, Any]) -> int | None:
        """Append ``event`` to the instance's RunningLog and return its seq (1, 2, 3… no gaps)."""
        if route != ROUTE:
            return None
        # One statement numbers the event and holds the instance row until the new log row
        # is committed, so concurrent writers (threads or OS processes) queue up instead of
        # taking the same number: a row lock on PostgreSQL; on SQLite settings open every
        # transaction IMMEDIATE, which takes the database write lock. Raw SQL because the
        # ORM's select_for_update + update took 1 ms of a 2 ms record (bench/), and its
        # create() 0.15 ms of the remaining 0.26 (model instance, save, signals).
        db = router.db_for_write(ProcessInstance)  # where the ORM would have written
        connection = connections[db]
        with transaction.atomic(using=db), connection.cursor() as cursor:
            cursor.execute(_NEXT_SEQ_SQL, [key])
            numbered = cursor.fetchone()
            if numbered is None:
                raise UnknownKey(f"Unknown process_instance_id {key!r}.")
            instance_pk, seq = numbered
            cursor.execute(_INSERT_LOG_SQL, _log_row(connection, instance_pk, seq, topic, event))
        return seq

    def snapshot(self, route: str, key: str) -> dict[str, Any] | None:
        """The instance's current state as one running_logger update message; None if unknown."""
        current = self.current(route, key)
        return None if current is None else current[0]

    def current(self, route: str, key: str) -> tuple[dict[str, Any], int] | None:
        """The current state and the seq of the update it comes from (0: none published yet).

        Taken from the newest recorded update rather than the instance row, so the state and
        its seq always agree (the runner saves the row a moment before it publishes).
        """
        if route != ROUTE:
            return None
        instance = (
            ProcessInstance.objects.only("pk", "running_edge", "task_progress", "graph_snapshot")
            .filter(process_instance_id=key)
            .first()
        )
        if instance is None:
            return None
        latest = (
            RunningLog.objects.filter(instance_id=instance.pk, topic=ROUTE)
            .order_by("-seq")
            .values_list("seq", "payload")
            .first()
        )
        if latest is None or not isinstance(latest[1], dict) or "message" not in latest[1]:
            return instance.as_update(), 0
        return latest[1]["message"], latest[0]

    def events_after(
        self, route: str, key: str, after_seq: int, limit: int
    ) -> list[tuple[int, str, dict[str, Any]]] | None:
        """Recorded events with seq > ``after_seq``, in order, as (seq, topic, event).

        None when they cannot all be given: some were pruned, there are more than ``limit``,
        or ``after_seq`` is ahead of the log. Raises UnknownKey for an unknown instance.
        """
        if route != ROUTE:
            return None
        instance = ProcessInstance.objects.only("pk", "log_seq").filter(process_instance_id=key)
        instance = instance.first()
        if instance is None:
            raise UnknownKey(f"Unknown process_instance_id {key!r}.")
        if after_seq > instance.log_seq:
            return None
        rows = list(
            RunningLog.objects.filter(instance_id=instance.pk, seq__gt=after_seq)
            .order_by("seq")
            .values_list("seq", "topic", "payload")[: limit + 1]
        )
        gap = rows[0][0] != after_seq + 1 if rows else instance.log_seq > after_seq
        return None if gap or len(rows) > limit else rows
