"""Retention: pruned running logs, and a resume from a pruned seq gets the state instead."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from orderlines.models import Process, ProcessInstance, RunningLog
from orderlines.realtime_store import ProcessRunStore


@pytest.fixture
def instance_with_logs(db):
    instance = ProcessInstance.objects.create(process=Process.objects.create(name="retention"))
    store = ProcessRunStore()
    for n in range(1, 7):
        event = {
            "topic": "running_logger",
            "process_instance_id": instance.process_instance_id,
            "message": {
                "task_progress": n * 10,
                "running_edge": [],
                "graph_data": {"graphData": {"nodes": [], "edges": []}},
            },
        }
        store.record("running_logger", instance.process_instance_id, "running_logger", event)
    return instance


def test_prune_deletes_only_old_rows(instance_with_logs, capsys):
    with connection.cursor() as cursor:  # age four rows (the ORM refuses updates by design)
        cursor.execute(
            f"UPDATE {RunningLog._meta.db_table} SET created_at = %s WHERE seq <= 4",
            [timezone.now() - timedelta(days=40)],
        )
    call_command("prune_running_logs", "--dry-run")
    assert "would delete 4" in capsys.readouterr().out
    call_command("prune_running_logs")
    assert list(
        RunningLog.objects.filter(instance=instance_with_logs).values_list("seq", flat=True)
    ) == [5, 6]


def test_resume_from_a_pruned_seq_is_refused_and_state_still_answers(instance_with_logs):
    key = instance_with_logs.process_instance_id
    store = ProcessRunStore()
    assert [row[0] for row in store.events_after("running_logger", key, 2, 100)] == [3, 4, 5, 6]
    RunningLog.objects.prune(timezone.now() + timedelta(seconds=1))  # everything
    assert store.events_after("running_logger", key, 2, 100) is None
    state, seq = store.current("running_logger", key)
    assert seq == 0 and state["task_progress"] == instance_with_logs.task_progress


def test_resume_limits(instance_with_logs):
    key = instance_with_logs.process_instance_id
    store = ProcessRunStore()
    assert store.events_after("running_logger", key, 1, 3) is None  # more than the limit
    assert store.events_after("running_logger", key, 6, 3) == []  # nothing missed
    assert store.events_after("running_logger", key, 9, 3) is None  # ahead of the log
    assert store.current("running_logger", key)[1] == 6
