"""The socket.io adapter against real servers, with python-socketio's own client."""

import asyncio
import json

import pytest
import redis
import socketio
from websockets.exceptions import InvalidStatus

from tests.clients import SocketIOClient, next_json, plain_ws
from tests.live import publish_from_other_process as publish_cli

pytestmark = [pytest.mark.asyncio, pytest.mark.live]

TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}


async def publish_from_other_process(servers, route: str, topic: str, message: str, key: str):
    """Publish ``message`` (JSON text) from another OS process."""
    return await publish_cli(servers.env, route, topic, json.loads(message), key)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_uia_answer_from_other_process_reaches_socketio_client(live_servers, transport):
    server = live_servers.start("daphne")
    client = SocketIOClient("uia")
    await client.connect(server.http, transports=TRANSPORTS[transport])
    if transport == "upgrade":
        await asyncio.sleep(0.5)
        assert client.client.transport() == "websocket"
    await publish_from_other_process(live_servers, "uia", "uia", '{"name": "OK button"}', "p-42")
    assert await client.next() == {
        "topic": "uia",
        "process_id": "p-42",
        "message": {"name": "OK button"},
    }
    await client.disconnect()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_get_uia_round_trip_between_socketio_clients(live_servers, transport):
    server = live_servers.start("uvicorn")
    asker, agent = SocketIOClient("uia"), SocketIOClient("uia")
    await asker.connect(server.http, transports=TRANSPORTS[transport])
    await agent.connect(server.http, transports=TRANSPORTS[transport], auth={"role": "agent"})
    await asker.emit({"topic": "uia", "msg": "get_uia", "process_id": "p-7"})
    assert await agent.next() == {"topic": "uia", "msg": "get_uia", "process_id": "p-7"}
    element = {"window_title": "Notepad", "control_type": "Edit", "rect": [0, 0, 10, 10]}
    await agent.emit({"topic": "uia", "msg": "uia_info", "process_id": "p-7", "message": element})
    assert await asker.next() == {"topic": "uia", "process_id": "p-7", "message": element}
    await asker.disconnect()
    await agent.disconnect()


async def test_bad_socketio_input_gets_error_event_and_connection_stays(live_servers):
    server = live_servers.start("daphne")
    client = SocketIOClient("uia")
    await client.connect(server.http, transports=["websocket"])
    await client.client.emit("uia", "just a string", namespace="/uia")
    assert (await client.next())["message"]["code"] == "not_an_object"
    await client.client.emit("other_event", {"x": 1}, namespace="/uia")
    assert (await client.next())["message"]["code"] == "unknown_event"
    await client.emit({"topic": "uia", "msg": "nope", "process_id": "p"})
    assert (await client.next())["message"]["code"] == "unknown_message"
    await publish_from_other_process(live_servers, "uia", "uia", "{}", "p-1")
    assert (await client.next())["process_id"] == "p-1"
    await client.disconnect()


async def test_unknown_namespace_is_refused(live_servers):
    server = live_servers.start("daphne")
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.http, namespaces=["/admin"], wait_timeout=5)
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.http, namespaces=["/"], wait_timeout=5)


async def test_foreign_origin_is_refused_on_both_transports(live_servers):
    server = live_servers.start("daphne")
    evil = {"Origin": "http://evil.example"}
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.http, namespaces=["/uia"], headers=evil, wait_timeout=5)
    with pytest.raises(InvalidStatus):
        async with plain_ws(f"{server.ws}/ws/uia/", origin="http://evil.example") as ws:
            await next_json(ws)
    # The allowed development origin gets in on both.
    good = SocketIOClient("uia")
    await good.connect(server.http, headers={"Origin": "http://localhost:8000"})
    await good.disconnect()
    async with plain_ws(f"{server.ws}/ws/uia/", origin="http://localhost:8000") as ws:
        await ws.send('{"topic": "uia", "msg": "nope"}')
        assert (await next_json(ws))["topic"] == "error"


async def test_one_publish_reaches_every_client_on_two_servers(live_servers):
    first, second = live_servers.start("daphne"), live_servers.start("uvicorn")
    sio_clients = [SocketIOClient("uia"), SocketIOClient("uia")]
    await sio_clients[0].connect(first.http)
    await sio_clients[1].connect(second.http)
    async with plain_ws(f"{first.ws}/ws/uia/") as ws1, plain_ws(f"{second.ws}/ws/uia/") as ws2:
        await asyncio.sleep(0.3)  # the websocket handshake returns before the hub has joined
        await publish_from_other_process(live_servers, "uia", "uia", '{"n": 1}', "p-2")
        expected = {"topic": "uia", "process_id": "p-2", "message": {"n": 1}}
        for client in sio_clients:
            assert await client.next() == expected
            assert await client.nothing_within(0.3)  # exactly once
        for ws in (ws1, ws2):
            assert await next_json(ws) == expected
    for client in sio_clients:
        await client.disconnect()


def _redis_calls(url: str) -> int:
    stats = redis.Redis.from_url(url).info("commandstats")
    return sum(entry["calls"] for entry in stats.values())


async def _broadcast_cost(servers, server, redis_url: str, clients: int) -> int:
    connected = [SocketIOClient("uia") for _ in range(clients)]
    await asyncio.gather(*(c.connect(server.http, transports=["websocket"]) for c in connected))
    await asyncio.sleep(0.5)
    before = _redis_calls(redis_url)
    await publish_from_other_process(servers, "uia", "uia", '{"x": 1}', "p-cost")
    await asyncio.gather(*(c.next(10) for c in connected))
    cost = _redis_calls(redis_url) - before
    await asyncio.gather(*(c.disconnect() for c in connected))
    return cost


async def test_broadcast_cost_in_redis_does_not_grow_with_clients(live_servers, private_redis):
    # A Redis of our own, so no other traffic on the machine is counted.
    live_servers.env["REDIS_URL"] = private_redis.url
    server = live_servers.start("uvicorn")
    few = await _broadcast_cost(live_servers, server, private_redis.url, 2)
    many = await _broadcast_cost(live_servers, server, private_redis.url, 60)
    print(f"Redis commands for one broadcast: 2 clients={few}, 60 clients={many}")
    # A channel per client would cost at least one command per client (58 more).
    assert many <= few + 5, (few, many)
