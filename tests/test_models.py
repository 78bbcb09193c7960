"""Models: ids, validation, the demo data migration, log_seq protection, append-only logs."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from orderlines.exceptions import AppendOnlyError, GraphError
from orderlines.graph import is_task, parse_graph
from orderlines.models import Process, ProcessInstance, RunningLog, TaskInstance
from orderlines.realtime_store import ProcessRunStore
from tests.fixtures_domain import edge, end, graph, start, task

pytest_plugins = ["tests.fixtures_domain"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def process(make_process):
    return make_process(graph([start(), task("a"), end()], [("start", "a"), ("a", "end")]))


def test_demo_process_created_by_migration():
    demo = Process.objects.get(name="demo")
    parsed = parse_graph(demo.graph)
    nodes = demo.graph["nodes"]
    assert len(nodes) >= 12
    assert all({"id", "type", "x", "y", "text", "properties"} <= set(n) for n in nodes)
    assert all(e["id"] and e["sourceNodeId"] and e["targetNodeId"] for e in demo.graph["edges"])
    assert parsed.nodes[parsed.start_id]["type"] == "bpmn:startEvent"
    assert {n["properties"].get("task") for n in nodes if is_task(n)} == {"wait", "log"}
    assert [n["id"] for n in nodes if n["properties"].get("breakpoint")] == ["n-charge"]
    # A split with two outgoing edges and a join with two incoming ones.
    assert len(parsed.outgoing["n-split"]) == 2
    assert len(parsed.incoming["n-join"]) == 2


def test_generated_ids(process):
    instance = ProcessInstance.objects.create(process=process)
    assert re.fullmatch(r"p-[0-9a-f]{12}", process.process_id)
    assert re.fullmatch(rf"pi-{timezone.now():%Y%m%d}-[0-9a-f]{{12}}", instance.process_instance_id)
    other = Process.objects.create(name="other")
    assert other.process_id != process.process_id


def test_process_name_is_unique(process):
    with pytest.raises(IntegrityError), transaction.atomic():
        Process.objects.create(name=process.name)


@pytest.mark.parametrize(
    ("bad_graph", "message"),
    [
        ({"nodes": "x"}, "must be lists"),
        (graph([task("a")], []), "exactly one start node"),
        (graph([start(), start()], []), "Duplicate node id"),
        (graph([start()], [edge("start", "ghost")]), "unknown node"),
        (graph([start(), task("a")], [("a", "start")]), "no incoming edge"),
    ],
)
def test_process_clean_refuses_unrunnable_graph(bad_graph, message):
    with pytest.raises(ValidationError, match=message):
        Process(name="bad", graph=bad_graph).full_clean()
    with pytest.raises(GraphError, match=message):
        parse_graph(bad_graph)


def test_task_progress_is_validated_and_constrained(process):
    instance = ProcessInstance(process=process, task_progress=101)
    with pytest.raises(ValidationError, match="task_progress"):
        instance.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        instance.save()


def test_duration(process):
    instance = ProcessInstance(process=process)
    assert instance.duration is None
    instance.started_at = timezone.now() - timedelta(seconds=5)
    assert timedelta(seconds=5) <= instance.duration < timedelta(seconds=10)
    instance.ended_at = instance.started_at + timedelta(seconds=2)
    assert instance.duration == timedelta(seconds=2)


def test_as_update_shape(process):
    instance = ProcessInstance.objects.create(
        process=process, task_progress=42, running_edge=["e-1"], graph_snapshot=process.graph
    )
    assert instance.as_update() == {
        "running_edge": ["e-1"],
        "task_progress": 42,
        "graph_data": {"graphData": process.graph},
    }


def test_saving_a_stale_copy_keeps_log_seq(process):
    instance = ProcessInstance.objects.create(process=process)
    stale = ProcessInstance.objects.get(pk=instance.pk)
    ProcessRunStore().record("running_logger", instance.process_instance_id, "t", {})
    ProcessRunStore().record("running_logger", instance.process_instance_id, "t", {})
    stale.status = ProcessInstance.Status.RUNNING
    stale.save()
    instance.refresh_from_db()
    assert (instance.status, instance.log_seq) == ("running", 2)


def test_running_log_is_append_only(process):
    instance = ProcessInstance.objects.create(process=process)
    log = RunningLog.objects.create(instance=instance, seq=1, topic="t", payload={"a": 1})
    log.payload = {"a": 2}
    with pytest.raises(AppendOnlyError):
        log.save()
    with pytest.raises(AppendOnlyError):
        log.delete()
    with pytest.raises(AppendOnlyError):
        RunningLog.objects.filter(pk=log.pk).update(topic="x")
    with pytest.raises(AppendOnlyError):
        RunningLog.objects.filter(pk=log.pk).delete()
    assert RunningLog.objects.get(pk=log.pk).payload == {"a": 1}


def test_running_log_seq_unique_per_instance(process):
    instance = ProcessInstance.objects.create(process=process)
    other = ProcessInstance.objects.create(process=process)
    RunningLog.objects.create(instance=instance, seq=1, topic="t", payload={})
    RunningLog.objects.create(instance=other, seq=1, topic="t", payload={})
    with pytest.raises(IntegrityError), transaction.atomic():
        RunningLog.objects.create(instance=instance, seq=1, topic="t", payload={})


def test_deleting_an_instance_takes_its_logs_and_tasks(process):
    instance = ProcessInstance.objects.create(process=process)
    TaskInstance.objects.create(instance=instance, node_id="a")
    RunningLog.objects.create(instance=instance, seq=1, topic="t", payload={})
    instance.delete()
    assert not RunningLog.objects.exists()
    assert not TaskInstance.objects.exists()


def test_task_node_unique_per_instance(process):
    instance = ProcessInstance.objects.create(process=process)
    TaskInstance.objects.create(instance=instance, node_id="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        TaskInstance.objects.create(instance=instance, node_id="a")
