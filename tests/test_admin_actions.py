"""Admin actions have their effect: stop stops a run, re-run starts one, re-broadcast reaches
a client connected to a real server."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from orderlines.models import ProcessInstance
from orderlines.runner import run_process
from tests.clients import next_json, plain_ws
from tests.fixtures_domain import RunThread, instance_status, wait_for

pytest_plugins = ["tests.fixtures_domain"]
pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = reverse("admin:orderlines_processinstance_changelist")


def action(client, name: str, *instances: ProcessInstance, **extra: str):
    """POST an admin action for ``instances`` as the changelist form does."""
    data = {
        "action": name,
        "index": "0",
        "select_across": "0",
        "_selected_action": [str(i.pk) for i in instances],
        **extra,
    }
    return client.post(CHANGELIST, data, follow=True)


def messages_of(response) -> list[str]:
    """The admin messages a response shows."""
    return [str(m) for m in response.context["messages"]]


def start_slow_run(process) -> tuple[RunThread, ProcessInstance]:
    """A demo run in a thread, slow enough to act on while it is running."""
    runner = RunThread(process, step_delay=0.5)
    runner.start()
    instance = wait_for(
        lambda: ProcessInstance.objects.filter(status="running").first(), what="a running run"
    )
    return runner, instance


def test_stop_stops_a_running_run(admin_client, demo_process):
    runner, instance = start_slow_run(demo_process)
    response = action(admin_client, "stop_runs", instance)
    assert response.status_code == 200
    assert any("Stop sent to" in m for m in messages_of(response))
    finished = runner.result(timeout=20)
    assert finished.status == ProcessInstance.Status.STOPPED
    # Stopped between nodes: the end node never ran.
    assert finished.tasks.get(node_id="n-end").status == "stopped"


def test_stop_leaves_finished_runs_alone(admin_client, demo_process):
    done = run_process(demo_process, step_delay=0)
    response = action(admin_client, "stop_runs", done)
    assert any("Not running" in m for m in messages_of(response))
    assert not done.logs.filter(topic="debug_sign").exists()


def test_stop_button_on_the_instance_page_returns_there(admin_client, demo_process):
    runner, instance = start_slow_run(demo_process)
    page = reverse("admin:orderlines_processinstance_change", args=[instance.pk])
    html = admin_client.get(page).content.decode()
    assert 'data-action="stop_runs"' in html and 'data-action="rebroadcast"' in html
    response = admin_client.post(
        CHANGELIST,
        {"action": "stop_runs", "index": "0", "select_across": "0",
         "_selected_action": str(instance.pk), "_return_to": page},
    )  # fmt: skip
    assert response.status_code == 302 and response["Location"] == page
    assert runner.result(timeout=20).status == ProcessInstance.Status.STOPPED


def test_rerun_creates_a_new_instance(admin_client, demo_process):
    old = run_process(demo_process, step_delay=0, params={"order_id": "SO-9"})
    response = action(admin_client, "rerun", old, step_delay="0")
    new = ProcessInstance.objects.exclude(pk=old.pk).get()
    assert new.process == demo_process
    shown = messages_of(response)
    assert any(new.process_instance_id in m and 'class="rerun-link"' in m for m in shown)
    wait_for(lambda: instance_status(new.process_instance_id) == "success", what="the re-run")
    new.refresh_from_db()
    assert new.params["order_id"] == "SO-9"


def test_operator_actions_need_change_permission(client, django_user_model, demo_process):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_processinstance"))
    run_process(demo_process, step_delay=0)  # the admin shows no actions on an empty list
    client.force_login(viewer)
    html = client.get(CHANGELIST).content.decode()
    assert 'value="rebroadcast"' in html
    assert 'value="stop_runs"' not in html and 'value="rerun"' not in html


@pytest.mark.live
@pytest.mark.asyncio
async def test_rebroadcast_reaches_a_connected_client(admin_client, live_servers, demo_process):
    server = live_servers.start("daphne")
    instance = await sync_to_async(run_process)(demo_process, step_delay=0)
    key = instance.process_instance_id
    async with plain_ws(f"{server.ws}/ws/running_logger/?process_instance_id={key}") as ws:
        # Its answer comes after the connection's subscription is in place.
        start = {"topic": "running_logger", "msg": "process start", "process_instance_id": key}
        await ws.send(json.dumps(start))
        assert (await next_json(ws, 10))["process_instance_id"] == key
        recorded = await sync_to_async(
            lambda: ProcessInstance.objects.get(pk=instance.pk).log_seq
        )()
        response = await sync_to_async(action)(admin_client, "rebroadcast", instance)
        assert response.status_code == 200
        # Frames the connection was sent before (the state on connect, the answer to process
        # start) carry seq <= recorded; the re-broadcast is recorded, so it is the next one.
        frame = await next_json(ws, 10)
        while frame.get("seq", 0) <= recorded:
            frame = await next_json(ws, 10)
    assert frame["seq"] == recorded + 1
    assert frame["topic"] == "running_logger"
    assert frame["process_instance_id"] == key
    assert frame["message"] == instance.as_update()
    assert frame["message"]["task_progress"] == 100
