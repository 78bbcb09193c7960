"""ProcessRunStore: numbering without gaps (threads and OS processes), snapshots, routes."""

import subprocess
import sys
import threading

import pytest
from django.db import connection

from orderlines.models import ProcessInstance, RunningLog
from orderlines.realtime_store import ProcessRunStore
from realtime.exceptions import UnknownKey
from realtime.publish import publish_update
from tests.fixtures_domain import end, graph, start
from tests.live import ROOT

pytest_plugins = ["tests.fixtures_domain"]

STORE = ProcessRunStore()


@pytest.fixture
def instance(make_process):
    process = make_process(graph([start(), end()], [("start", "end")]))
    return ProcessInstance.objects.create(
        process=process,
        task_progress=30,
        running_edge=["e-start-end"],
        graph_snapshot=process.graph,
    )


def seqs(instance):
    return list(
        RunningLog.objects.filter(instance=instance).order_by("seq").values_list("seq", flat=True)
    )


@pytest.mark.django_db
def test_record_numbers_events_and_keeps_them(instance):
    key = instance.process_instance_id
    assert [STORE.record("running_logger", key, "running_logger", {"n": i}) for i in range(3)] == [
        1,
        2,
        3,
    ]
    rows = list(RunningLog.objects.filter(instance=instance).order_by("seq"))
    assert [(r.seq, r.topic, r.payload["n"]) for r in rows] == [
        (1, "running_logger", 0), (2, "running_logger", 1), (3, "running_logger", 2),
    ]  # fmt: skip
    instance.refresh_from_db()
    assert instance.log_seq == 3


@pytest.mark.django_db
def test_record_unknown_instance_raises_unknown_key():
    with pytest.raises(UnknownKey, match="pi-nope"):
        STORE.record("running_logger", "pi-nope", "running_logger", {})
    assert not RunningLog.objects.exists()


@pytest.mark.django_db
def test_other_routes_are_not_kept(instance):
    assert STORE.record("uia", instance.process.process_id, "uia", {"x": 1}) is None
    assert STORE.snapshot("uia", instance.process.process_id) is None
    assert not RunningLog.objects.exists()


@pytest.mark.django_db
def test_snapshot(instance):
    assert STORE.snapshot("running_logger", instance.process_instance_id) == {
        "running_edge": ["e-start-end"],
        "task_progress": 30,
        "graph_data": {"graphData": instance.process.graph},
    }
    assert STORE.snapshot("running_logger", "pi-unknown") is None


@pytest.mark.django_db(transaction=True)
def test_publish_records_the_event_before_broadcasting(instance):
    seq = publish_update(instance.process_instance_id, instance.as_update())
    log = RunningLog.objects.get(instance=instance)
    assert (seq, log.seq, log.topic) == (1, 1, "running_logger")
    assert log.payload == {
        "topic": "running_logger",
        "process_instance_id": instance.process_instance_id,
        "message": instance.as_update(),
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_threads_get_unique_gapless_seqs(instance):
    threads_count, per_thread = 8, 25
    returned: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_count)

    def writer() -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                returned.append(
                    STORE.record("running_logger", instance.process_instance_id, "t", {"i": i})
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    total = threads_count * per_thread
    assert sorted(returned) == list(range(1, total + 1))
    assert seqs(instance) == list(range(1, total + 1))
    instance.refresh_from_db()
    assert instance.log_seq == total


WRITER = """
import django, sys
django.setup()
from orderlines.realtime_store import ProcessRunStore
store = ProcessRunStore()
print(",".join(str(store.record("running_logger", sys.argv[1], "t", {"i": i})) for i in range(20)))
"""


@pytest.mark.django_db(transaction=True)
def test_concurrent_processes_get_unique_gapless_seqs(instance, child_env):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, instance.process_instance_id],
            cwd=ROOT, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(4)
    ]  # fmt: skip
    returned = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        returned += [int(seq) for seq in out.strip().split(",")]
    assert sorted(returned) == list(range(1, 81))
    assert seqs(instance) == list(range(1, 81))
