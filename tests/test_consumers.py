"""Plain WebSocket transport over the real channels-redis layer (in-process ASGI app)."""

import asyncio
import json
import uuid

import pytest
from channels.testing import WebsocketCommunicator

from realtime import conf, groups, publish
from realtime.asgi import realtime_application
from tests.stores import MemoryStore

pytestmark = pytest.mark.asyncio


async def _http_app(scope, receive, send):  # no Django views are needed here
    raise AssertionError("HTTP is not used in these tests")


APP = realtime_application(_http_app)


@pytest.fixture(autouse=True)
def memory_store(settings):
    settings.REALTIME = {**settings.REALTIME, "STORE": "tests.stores.MemoryStore"}


def new_instance() -> str:
    key = f"pi-{uuid.uuid4().hex[:10]}"
    MemoryStore.add_instance(key)
    return key


async def connect(path: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(APP, path)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def receive(communicator: WebsocketCommunicator, timeout: float = 5.0) -> dict:
    return json.loads(await communicator.receive_from(timeout=timeout))


async def assert_silent(communicator: WebsocketCommunicator, timeout: float = 0.5) -> None:
    assert await communicator.receive_nothing(timeout=timeout)


UPDATE = {
    "running_edge": ["e1"],
    "task_progress": 40,
    "graph_data": {"graphData": {"nodes": [], "edges": []}},
}


async def test_route_client_receives_every_instance(hub):
    a, b = new_instance(), new_instance()
    client = await connect("/ws/running_logger/")
    await publish.apublish_update(a, UPDATE)
    await publish.apublish_update(b, UPDATE)
    first, second = await receive(client), await receive(client)
    assert [first["process_instance_id"], second["process_instance_id"]] == [a, b]
    assert first["topic"] == "running_logger" and first["message"] == UPDATE
    assert first["seq"] == 1
    await client.disconnect()


async def test_narrowed_client_gets_only_its_instance_once(hub):
    mine, other = new_instance(), new_instance()
    narrowed = await connect(f"/ws/running_logger/?process_instance_id={mine}")
    state = await receive(narrowed)  # following an instance starts with its state
    assert state["process_instance_id"] == mine and state["seq"] == 0
    await publish.apublish_update(other, UPDATE)
    await publish.apublish_update(mine, UPDATE)
    got = await receive(narrowed)
    assert got["process_instance_id"] == mine and got["seq"] == 1
    await assert_silent(narrowed)  # the other instance never came, and mine came once
    await narrowed.disconnect()


async def test_a_publish_is_one_channel_layer_message_for_route_and_key_followers(hub, monkeypatch):
    key = new_instance()
    whole_route = await connect("/ws/running_logger/")
    narrowed = await connect(f"/ws/running_logger/?process_instance_id={key}")
    await receive(narrowed)  # its state
    layer, sent = conf.channel_layer(), []
    real_group_send = layer.group_send

    async def counting_group_send(group, message):
        sent.append(group)
        await real_group_send(group, message)

    monkeypatch.setattr(layer, "group_send", counting_group_send)
    await publish.apublish_update(key, UPDATE)
    assert (await receive(whole_route))["seq"] == 1
    assert (await receive(narrowed))["seq"] == 1
    await assert_silent(whole_route)
    await assert_silent(narrowed)
    assert sent == [groups.route_group("running_logger")]
    await whole_route.disconnect()
    await narrowed.disconnect()


async def test_hub_is_in_the_route_group_while_any_key_of_it_is_followed(hub):
    a, b = new_instance(), new_instance()
    route_group = groups.route_group("running_logger")
    follows_a = await connect(f"/ws/running_logger/?process_instance_id={a}")
    follows_b = await connect(f"/ws/running_logger/?process_instance_id={b}")
    await receive(follows_a), await receive(follows_b)
    assert route_group in hub._joined
    await follows_a.disconnect()
    assert route_group in hub._joined  # b is still followed
    await publish.apublish_update(b, UPDATE)
    assert (await receive(follows_b))["process_instance_id"] == b
    await follows_b.disconnect()
    assert route_group not in hub._joined
    assert not hub.members  # no empty group is kept


async def test_subscribe_message_narrows_and_switches_to_msg_frames(hub):
    mine, other = new_instance(), new_instance()
    client = await connect("/ws/running_logger/")
    await client.send_json_to(
        {"action": "subscribe", "topic": "running_logger", "process_instance_id": mine}
    )
    state = await receive(client)
    assert state["msg"] == MemoryStore.instances[mine] and state["seq"] == 0
    await publish.apublish_update(other, UPDATE)
    await publish.apublish_update(mine, UPDATE)
    got = await receive(client)
    assert got["msg"]["running_edge"] == ["e1"]
    assert got["msg"]["graph_data"]["graphData"] == {"nodes": [], "edges": []}
    await assert_silent(client)
    await client.disconnect()


async def test_process_start_replies_with_current_state(hub):
    key = new_instance()
    MemoryStore.instances[key]["task_progress"] = 77
    client = await connect("/ws/running_logger/")
    await client.send_json_to(
        {"topic": "running_logger", "msg": "process start", "process_instance_id": key}
    )
    got = await receive(client)
    assert got.pop("seq") == 0  # no update recorded yet: the state is the instance's own
    assert got == {
        "topic": "running_logger",
        "process_instance_id": key,
        "message": MemoryStore.instances[key],
    }
    await client.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "not_an_object"),
        ('{"topic": "nope", "msg": "x"}', "unknown_message"),
        ('{"topic": "running_logger"}', "missing_field"),
        ('{"topic": "running_logger", "msg": "process start"}', "missing_field"),
        (
            '{"topic": "running_logger", "msg": "process start", "process_instance_id": 5}',
            "missing_field",
        ),
        (
            '{"topic": "running_logger", "msg": "process start", "process_instance_id": "nope"}',
            "unknown_instance",
        ),
        (
            '{"topic": "debug_sign", "msg": "debug stop", "process_instance_id": "nope"}',
            "unknown_instance",
        ),
        ('{"action": "unsubscribe"}', "unknown_message"),
        ('{"action": "subscribe", "topic": "uia"}', "unknown_topic"),
        ("x" * 70_000, "too_large"),
        ("[" * 100 + "]" * 100, "not_an_object"),
        ('{"a":' * 40 + "1" + "}" * 40, "too_deep"),
    ],
)
async def test_bad_input_gets_error_frame_and_connection_stays_usable(hub, frame, code):
    client = await connect("/ws/running_logger/")
    await client.send_to(text_data=frame)
    error = await receive(client)
    assert error["topic"] == "error" and error["message"]["code"] == code, error
    assert error["message"]["detail"]
    key = new_instance()
    await publish.apublish_update(key, UPDATE)
    assert (await receive(client))["process_instance_id"] == key
    await client.disconnect()


async def test_binary_frame_is_parsed_like_text(hub):
    key = new_instance()
    client = await connect("/ws/running_logger/")
    await client.send_to(
        bytes_data=json.dumps(
            {"topic": "running_logger", "msg": "process start", "process_instance_id": key}
        ).encode()
    )
    assert (await receive(client))["process_instance_id"] == key
    await client.disconnect()


async def test_uia_round_trip_through_an_agent(hub):
    asker = await connect("/ws/uia/")
    agent = await connect("/ws/uia/?role=agent")
    await asker.send_json_to({"topic": "uia", "msg": "get_uia", "process_id": "p-1"})
    request = await receive(agent)
    assert request == {"topic": "uia", "msg": "get_uia", "process_id": "p-1"}
    element = {"window_title": "Calculator", "control_type": "Button", "automation_id": "num7"}
    await agent.send_json_to(
        {"topic": "uia", "msg": "uia_info", "process_id": "p-1", "message": element}
    )
    answer = await receive(asker)
    assert answer == {"topic": "uia", "process_id": "p-1", "message": element}
    await asker.disconnect()
    await agent.disconnect()


async def test_get_uia_without_agent_is_a_clear_error(hub, settings):
    settings.REALTIME = {**settings.REALTIME, "AGENT_ACK_TIMEOUT": 0.3}
    asker = await connect("/ws/uia/")
    await asker.send_json_to({"topic": "uia", "msg": "get_uia", "process_id": "p-2"})
    error = await receive(asker)
    assert error["topic"] == "error" and error["message"]["code"] == "no_agent"
    assert "agent" in error["message"]["detail"]
    await asker.disconnect()


async def test_only_agents_may_answer(hub):
    client = await connect("/ws/uia/")
    await client.send_json_to({"topic": "uia", "msg": "uia_info", "process_id": "p", "message": {}})
    assert (await receive(client))["message"]["code"] == "not_agent"
    await client.disconnect()


async def test_debug_sign_reaches_control_group_and_is_recorded(hub):
    from realtime.control import ControlListener

    key = new_instance()
    client = await connect("/ws/running_logger/")
    listener = ControlListener(key)
    await asyncio.to_thread(listener.start)
    try:
        await client.send_json_to(
            {"topic": "debug_sign", "msg": "debug continue", "process_instance_id": key}
        )
        command = await asyncio.to_thread(listener.get, 5)
        assert command == {
            "topic": "debug_sign",
            "msg": "debug continue",
            "process_instance_id": key,
        }
        assert MemoryStore.events[key][-1][1] == "debug_sign"
    finally:
        await asyncio.to_thread(listener.stop)
    await client.disconnect()


async def test_unknown_route_path_is_refused():
    communicator = WebsocketCommunicator(APP, "/ws/nope/")
    with pytest.raises(ValueError):
        await communicator.connect(timeout=2)
