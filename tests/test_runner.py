"""The runner: walking graphs, task results and failures, publishing, and debug breakpoints."""

import asyncio
import io
import json
import logging
import subprocess
import sys

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.core.management.base import CommandError

from orderlines.models import ProcessInstance, RunningLog
from orderlines.realtime_store import ProcessRunStore
from orderlines.runner import run_process
from realtime import conf, control, groups
from realtime.exceptions import PublishError
from realtime.routes.running_logger import RunningLoggerRoute
from tests import fixtures_domain
from tests.fixtures_domain import (
    RunThread,
    call,
    edge,
    end,
    graph,
    start,
    task,
    wait_for,
)
from tests.live import ROOT

pytest_plugins = ["tests.fixtures_domain"]
pytestmark = pytest.mark.django_db(transaction=True)


def logs(instance, topic=None):
    rows = RunningLog.objects.filter(instance=instance).order_by("seq")
    if topic:
        rows = rows.filter(topic=topic)
    return list(rows)


def node_statuses(update):
    """Node id -> status in a running_logger update message."""
    nodes = update["graph_data"]["graphData"]["nodes"]
    return {n["id"]: n["properties"]["status"] for n in nodes}


def first_seq(instance, node_id, status):
    """The seq of the first update that shows ``node_id`` in ``status``."""
    for log in logs(instance, "running_logger"):
        if node_statuses(log.payload["message"]).get(node_id) == status:
            return log.seq
    raise AssertionError(f"{node_id} never {status}")


def sign(instance_id, msg):
    return {"topic": "debug_sign", "msg": msg, "process_instance_id": instance_id}


# -- normal runs --------------------------------------------------------------------------


def test_demo_run_succeeds_with_gapless_log(demo_process):
    instance = run_process(demo_process, step_delay=0)
    instance.refresh_from_db()
    assert instance.status == "success"
    assert instance.task_progress == 100
    assert instance.running_edge == []
    assert instance.ended_at >= instance.started_at
    assert instance.runner.rsplit(":", 1)[1].isdigit()
    assert instance.params == {"order_id": "SO-1001"}
    assert set(instance.tasks.values_list("status", flat=True)) == {"success"}
    rows = logs(instance)
    assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
    assert instance.log_seq == len(rows) > 2 * len(demo_process.graph["nodes"])
    last = rows[-1].payload
    assert last["process_instance_id"] == instance.process_instance_id
    assert last["message"]["task_progress"] == 100
    assert set(node_statuses(last["message"]).values()) == {"success"}
    # Progress only grows, and every node's style follows its status.
    progress = [row.payload["message"]["task_progress"] for row in rows]
    assert progress == sorted(progress)
    styles = {
        n["properties"]["style"]["stroke"]
        for n in last["message"]["graph_data"]["graphData"]["nodes"]
    }
    assert styles == {"#52c41a"}


def test_running_edges_follow_the_walk(demo_process):
    instance = run_process(demo_process, step_delay=0)
    edges = [row.payload["message"]["running_edge"] for row in logs(instance, "running_logger")]
    assert ["e-split-reserve", "e-split-charge"] in edges
    assert ["e-label-join", "e-receipt-join"] in edges  # the join starts over both its edges
    assert edges[-1] == []


def test_branches_run_breadth_first_and_join_waits_for_both(make_process):
    fixtures_domain.CALLS.clear()
    nodes = [
        start(),
        call("split"),
        call("a1"),
        call("a2"),
        call("a3"),
        call("b1"),
        call("join"),
        end(),
    ]
    pairs = [("start", "split"), ("split", "a1"), ("a1", "a2"), ("a2", "a3"), ("split", "b1"),
             ("b1", "join"), ("a3", "join"), ("join", "end")]  # fmt: skip
    instance = run_process(make_process(graph(nodes, pairs)), step_delay=0)
    assert instance.status == "success"
    assert fixtures_domain.CALLS == ["split", "a1", "b1", "a2", "a3", "join"]
    assert first_seq(instance, "join", "running") > first_seq(instance, "a3", "success")
    assert first_seq(instance, "join", "running") > first_seq(instance, "b1", "success")


def test_edge_conditions_choose_a_branch(make_process):
    fixtures_domain.CALLS.clear()
    nodes = [start(), call("check"), call("yes"), call("no"), call("after"), end()]
    edges = [edge("start", "check"), edge("check", "yes", condition="approved"),
             edge("check", "no", condition="!approved"), edge("yes", "after"),
             edge("no", "after"), edge("after", "end")]  # fmt: skip
    process = make_process(graph(nodes, edges), params={"approved": True})
    instance = run_process(process, step_delay=0)
    assert instance.status == "success"
    assert fixtures_domain.CALLS == ["check", "yes", "after"]
    statuses = dict(instance.tasks.values_list("node_id", "status"))
    assert (statuses["yes"], statuses["no"], statuses["end"]) == ("success", "skipped", "success")
    other = run_process(process, step_delay=0, params={"approved": False})
    assert dict(other.tasks.values_list("node_id", "status"))["yes"] == "skipped"


def test_callable_task_by_dotted_path(make_process):
    path = "tests.fixtures_domain.multiply"
    nodes = [start(), task("first"), call("calc", path, params={"a": 6, "b": 7}), end()]
    process = make_process(
        graph(nodes, [("start", "first"), ("first", "calc"), ("calc", "end")]),
        params={"order_id": "SO-7"},
    )
    instance = run_process(process, step_delay=0)
    calc = instance.tasks.get(node_id="calc")
    assert calc.status == "success"
    assert calc.result == {
        "product": 42,
        "instance": instance.process_instance_id,
        "order_id": "SO-7",
        "earlier": ["first", "start"],
    }


def test_result_that_is_not_json_is_stored_as_repr(make_process):
    nodes = [start(), call("odd", "tests.fixtures_domain.returns_object"), end()]
    instance = run_process(
        make_process(graph(nodes, [("start", "odd"), ("odd", "end")])), step_delay=0
    )
    assert instance.status == "success"
    assert instance.tasks.get(node_id="odd").result["repr"].startswith("<object object")


@pytest.mark.parametrize(
    ("bad", "error_type", "message"),
    [
        (task("bad", "fail", params={"message": "card declined"}), "TaskError", "card declined"),
        (task("bad", "teleport"), "TaskError", "Unknown task 'teleport'"),
        (call("bad", "tests.fixtures_domain.nowhere"), "TaskError", "Cannot import"),
        (call("bad", "tests.fixtures_domain.multiply", params={"a": 1}), "KeyError", "'b'"),
        (task("bad", "wait", params={"seconds": "soon"}), "TaskError", "must be a number"),
    ],
)
def test_failing_task_fails_the_instance(make_process, bad, error_type, message):
    nodes = [start(), task("ok"), bad, task("after"), end()]
    pairs = [("start", "ok"), ("ok", "bad"), ("bad", "after"), ("after", "end")]
    instance = run_process(make_process(graph(nodes, pairs)), step_delay=0)
    instance.refresh_from_db()
    assert instance.status == "failure"
    assert instance.error["node_id"] == "bad"
    assert instance.error["type"] == error_type
    assert message in instance.error["message"]
    assert "Traceback" in instance.error["traceback"]
    statuses = dict(instance.tasks.values_list("node_id", "status"))
    assert statuses == {"start": "success", "ok": "success", "bad": "failure", "after": "skipped",
                        "end": "skipped"}  # fmt: skip
    assert instance.tasks.get(node_id="bad").error["message"] == instance.error["message"]
    assert instance.task_progress == 66  # 2 of 3 tasks done (ok, bad)
    last = logs(instance)[-1].payload["message"]
    assert node_statuses(last)["bad"] == "failure"
    assert last["task_progress"] == 66


def test_a_cycle_fails_the_run_instead_of_hanging(make_process):
    nodes = [start(), task("a"), task("b"), end()]
    pairs = [("start", "a"), ("a", "b"), ("b", "a"), ("b", "end")]
    instance = run_process(make_process(graph(nodes, pairs)), step_delay=0)
    assert instance.status == "failure"
    assert "cycle" in instance.error["message"]


def test_publish_failure_does_not_stop_the_run(demo_process, monkeypatch, caplog):
    def broken(instance_id, message):
        raise PublishError("Redis is down")

    monkeypatch.setattr("orderlines.runner.publish_update", broken)
    with caplog.at_level(logging.WARNING, logger="orderlines.runner"):
        instance = run_process(demo_process, step_delay=0)
    assert instance.status == "success"
    assert instance.task_progress == 100
    assert "Redis is down" in caplog.text


def test_step_delay_paces_the_run(make_process):
    nodes = [start(), task("a"), end()]
    instance = run_process(
        make_process(graph(nodes, [("start", "a"), ("a", "end")])), step_delay=0.3
    )
    assert instance.duration.total_seconds() >= 0.6  # slept after start and after a


def test_instance_id_in_use_is_refused(demo_process):
    instance = run_process(demo_process, step_delay=0, instance_id="pi-fixed-1")
    assert instance.process_instance_id == "pi-fixed-1"
    with pytest.raises(Exception, match="already used"):
        run_process(demo_process, step_delay=0, instance_id="pi-fixed-1")


def test_pending_instance_is_taken_over(demo_process):
    ProcessInstance.objects.create(
        process=demo_process, process_instance_id="pi-pending", params={"order_id": "SO-9"}
    )
    instance = run_process(demo_process, step_delay=0, instance_id="pi-pending")
    assert (instance.status, instance.params["order_id"]) == ("success", "SO-9")


async def test_updates_are_broadcast_to_the_route_group_naming_the_instance_group(demo_process):
    layer = conf.channel_layer()
    channel = await layer.new_channel("test.")
    group = groups.route_group("running_logger")
    await layer.group_add(group, channel)
    try:
        runner = RunThread(demo_process, step_delay=0, instance_id="pi-broadcast")
        runner.start()
        first = await asyncio.wait_for(layer.receive(channel), 10)
        event = json.loads(first["event_json"])  # encoded once by the publisher
        assert (first["seq"], event["topic"], event["process_instance_id"]) == (
            1, "running_logger", "pi-broadcast",
        )  # fmt: skip
        assert first["key_group"] == groups.key_group("running_logger", "pi-broadcast")
        assert set(event["message"]) == {"running_edge", "task_progress", "graph_data"}
        assert event["message"]["graph_data"]["graphData"]["nodes"]
        await asyncio.to_thread(runner.result)
    finally:
        await layer.group_discard(group, channel)


# -- the management command ---------------------------------------------------------------


def test_command_runs_and_prints_the_instance_id_first(demo_process):
    out = io.StringIO()
    call_command("run_process", "demo", "--step-delay", "0", stdout=out)
    lines = out.getvalue().splitlines()
    instance_id = lines[0].removeprefix("process_instance_id=")
    assert lines[0].startswith("process_instance_id=pi-")
    assert ProcessInstance.objects.get(process_instance_id=instance_id).status == "success"
    assert len(lines) > 20
    assert "[100%] success" in lines[-1]


def test_command_accepts_process_id_and_instance_id(demo_process):
    out = io.StringIO()
    call_command("run_process", "p-demo", "--step-delay=0", "--instance-id=pi-cmd", stdout=out)
    assert out.getvalue().splitlines()[0] == "process_instance_id=pi-cmd"


def test_command_failure_exits_1(make_process):
    make_process(
        graph([start(), task("boom", "fail"), end()], [("start", "boom"), ("boom", "end")]),
        name="bad",
    )
    with pytest.raises(CommandError, match="ended failure") as excinfo:
        call_command("run_process", "bad", "--step-delay=0", stdout=io.StringIO())
    assert excinfo.value.returncode == 1


def test_command_unknown_process(demo_process):
    with pytest.raises(
        CommandError, match=r"No process named or with process_id 'nope'.*demo"
    ) as exc:
        call_command("run_process", "nope", stdout=io.StringIO())
    assert exc.value.returncode == 2


def test_command_exit_status_in_a_real_process(make_process, child_env):
    make_process(
        graph([start(), task("boom", "fail"), end()], [("start", "boom"), ("boom", "end")]),
        name="bad",
    )
    command = [sys.executable, "manage.py", "run_process", "bad", "--step-delay", "0"]
    failed = subprocess.run(
        command, cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=60
    )
    assert failed.returncode == 1, failed.stderr
    assert failed.stdout.startswith("process_instance_id=pi-")
    assert "ended failure" in failed.stderr
    unknown = subprocess.run([*command[:3], "nope"], cwd=ROOT, env=child_env, capture_output=True,
                             text=True, timeout=60)  # fmt: skip
    assert unknown.returncode == 2
    assert "No process named" in unknown.stderr


# -- debug runs ---------------------------------------------------------------------------


def pause_message(instance_id, node_id):
    """The debug message of the pause at ``node_id`` once the run is paused there, else None."""
    instance = ProcessInstance.objects.filter(process_instance_id=instance_id).first()
    if instance is None or instance.status != "paused":
        return None
    messages = [log.payload["message"] for log in logs(instance, "debug_message")]
    last = messages[-1] if messages else {}
    return last if (last.get("status"), last.get("node_id")) == ("paused", node_id) else None


STARTED: list[tuple[str, RunThread]] = []


@pytest.fixture(autouse=True)
def stop_leftover_runs():
    """A failed test must not leave a paused runner polling a database that is being flushed."""
    yield
    while STARTED:
        instance_id, runner = STARTED.pop()
        if runner.is_alive():
            ProcessRunStore().record(
                "running_logger", instance_id, "debug_sign", sign(instance_id, "debug stop")
            )
            runner.join(10)


def start_debug_run(process, instance_id, node_id="n-charge"):
    """Start a debug run in a thread and wait until it pauses at ``node_id``."""
    runner = RunThread(process, step_delay=0, debug=True, instance_id=instance_id)
    runner.start()
    STARTED.append((instance_id, runner))
    wait_for(lambda: pause_message(instance_id, node_id), what=f"{instance_id} to pause")
    return runner


def test_breakpoint_pauses_and_channel_continue_resumes(demo_process):
    runner = start_debug_run(demo_process, "pi-dbg-chan-go")
    instance = ProcessInstance.objects.get(process_instance_id="pi-dbg-chan-go")
    pause = pause_message("pi-dbg-chan-go", "n-charge")
    assert (pause["node_id"], pause["task_name"], pause["params"]) == (
        "n-charge", "Charge payment", {"seconds": 0.3},
    )  # fmt: skip
    assert "breakpoint" in pause["text"]
    assert node_statuses(instance.as_update())["n-charge"] == "paused"
    assert instance.tasks.get(node_id="n-charge").status == "pending"
    # Only on the channel: nothing is recorded, so the DB fallback cannot be what resumes.
    async_to_sync(control.asend)("pi-dbg-chan-go", sign("pi-dbg-chan-go", "debug continue"))
    instance = runner.result()
    assert instance.status == "success"
    assert not logs(instance, "debug_sign")
    complete = logs(instance, "debug_message")[-1].payload["message"]
    assert complete["sign"] == "debug run complete"


def test_channel_stop_stops_the_run(demo_process):
    runner = start_debug_run(demo_process, "pi-dbg-chan-stop")
    async_to_sync(control.asend)("pi-dbg-chan-stop", sign("pi-dbg-chan-stop", "debug stop"))
    instance = runner.result()
    assert instance.status == "stopped"
    assert instance.ended_at is not None
    statuses = dict(instance.tasks.values_list("node_id", "status"))
    assert (statuses["n-stock"], statuses["n-charge"], statuses["n-end"]) == (
        "success",
        "stopped",
        "stopped",
    )
    assert node_statuses(logs(instance)[-1].payload["message"])["n-charge"] == "stopped"
    assert not any("sign" in log.payload["message"] for log in logs(instance, "debug_message"))


@pytest.mark.parametrize(
    ("msg", "status"), [("debug continue", "success"), ("debug stop", "stopped")]
)
def test_recorded_sign_alone_is_found_by_the_poll(demo_process, msg, status):
    runner = start_debug_run(demo_process, "pi-dbg-db")
    # Recorded only, never sent: as if the runner missed the channel message.
    ProcessRunStore().record("running_logger", "pi-dbg-db", "debug_sign", sign("pi-dbg-db", msg))
    assert runner.result().status == status


def test_a_sign_from_the_client_path_answers_one_breakpoint_only(make_process):
    nodes = [start(), task("one", breakpoint=True), task("two", breakpoint=True), end()]
    process = make_process(graph(nodes, [("start", "one"), ("one", "two"), ("two", "end")]))
    runner = start_debug_run(process, "pi-dbg-two", "one")
    route = RunningLoggerRoute()
    # What a client's "debug continue" does: recorded, then sent on the channel.
    async_to_sync(route.debug_sign)(None, sign("pi-dbg-two", "debug continue"))
    wait_for(lambda: ProcessInstance.objects.get(process_instance_id="pi-dbg-two").tasks.get(
        node_id="one").status == "success", what="node one to run")  # fmt: skip
    # The second copy of that sign (channel or record) must not get past the next breakpoint.
    wait_for(lambda: pause_message("pi-dbg-two", "two"), what="the pause at node two")
    instance = ProcessInstance.objects.get(process_instance_id="pi-dbg-two")
    assert instance.tasks.get(node_id="two").status == "pending"
    async_to_sync(route.debug_sign)(None, sign("pi-dbg-two", "debug continue"))
    assert runner.result().status == "success"


def test_debug_run_without_breakpoints_completes_with_sign(make_process):
    nodes = [start(), task("a"), end()]
    process = make_process(graph(nodes, [("start", "a"), ("a", "end")]))
    instance = run_process(process, step_delay=0, debug=True)
    assert (instance.status, instance.mode) == ("success", "debug")
    messages = [log.payload["message"] for log in logs(instance, "debug_message")]
    assert [m.get("node_id") for m in messages[:-1]] == ["start", "a", "end"]
    assert messages[-1]["sign"] == "debug run complete"


def test_breakpoints_are_ignored_outside_debug_mode(demo_process):
    instance = run_process(demo_process, step_delay=0)
    assert instance.status == "success"
    assert not logs(instance, "debug_message")
