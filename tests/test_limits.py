"""Input limits: message rate (error, then disconnect on a flood), connections per address,
frame and packet size; on both transports, never a crash."""

import asyncio
import json

import aiohttp
import pytest
import socketio
from channels.testing import WebsocketCommunicator
from websockets.exceptions import ConnectionClosed

from realtime.asgi import realtime_application
from tests.clients import plain_ws

pytestmark = pytest.mark.asyncio


async def _http_app(scope, receive, send):
    raise AssertionError("HTTP is not used in these tests")


APP = realtime_application(_http_app)


def braces(text: str) -> str:
    """Escape for LiveServers.start, which formats env values with {port}."""
    return text.replace("{", "{{").replace("}", "}}")


BAD = json.dumps({"topic": "nope", "msg": "nope"})


@pytest.fixture(autouse=True)
def tight_limits(settings):
    settings.REALTIME = {
        **settings.REALTIME,
        "MAX_MESSAGES_PER_SECOND": 5.0,
        "MESSAGE_BURST": 5,
        "FLOOD_TOLERANCE": 10,
        "MAX_CONNECTIONS_PER_ADDRESS": 2,
    }


async def connect(path: str = "/ws/uia/") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(APP, path)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def codes(communicator: WebsocketCommunicator, count: int) -> list[str]:
    out = []
    for _ in range(count):
        frame = await communicator.receive_output(timeout=5)
        if frame["type"] == "websocket.close":
            out.append(f"close:{frame['code']}")
            break
        out.append(json.loads(frame["text"])["message"]["code"])
    return out


async def test_rate_limit_drops_with_an_error_then_a_flood_disconnects(hub):
    ws = await connect()
    for _ in range(5):
        await ws.send_to(text_data=BAD)
    assert await codes(ws, 5) == ["unknown_message"] * 5  # the burst is handled
    await ws.send_to(text_data=BAD)
    assert await codes(ws, 1) == ["rate_limited"]
    for _ in range(12):
        await ws.send_to(text_data=BAD)
    got = await codes(ws, 13)
    assert got[-2:] == ["flood", "close:4429"], got


async def test_slow_sender_is_never_limited(hub):
    ws = await connect()
    for _ in range(8):
        await ws.send_to(text_data=BAD)
        assert await codes(ws, 1) == ["unknown_message"]
        await asyncio.sleep(0.21)
    await ws.disconnect()


async def test_connections_per_address(hub):
    first, second = await connect(), await connect()
    third = await connect()
    closed = await third.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4429, "reason": "too_many_connections"}
    await first.disconnect()
    fourth = await connect()  # a slot came back
    assert await fourth.receive_nothing(timeout=0.3)
    await second.disconnect()
    await fourth.disconnect()


async def test_oversize_frame_gets_an_error_frame_and_the_connection_lives(hub, settings):
    settings.REALTIME = {**settings.REALTIME, "MAX_MESSAGE_BYTES": 1024}
    ws = await connect()
    await ws.send_to(text_data=json.dumps({"topic": "uia", "msg": "x" * 5000}))
    assert await codes(ws, 1) == ["too_large"]
    await ws.send_to(text_data=BAD)
    assert await codes(ws, 1) == ["unknown_message"]
    await ws.disconnect()


@pytest.mark.live
async def test_live_limits_on_both_transports(live_servers):
    options = json.dumps(
        {
            "MAX_MESSAGES_PER_SECOND": 5,
            "MESSAGE_BURST": 5,
            "FLOOD_TOLERANCE": 10,
            "MAX_MESSAGE_BYTES": 4096,
        }
    )
    server = live_servers.start("daphne", env={"REALTIME_OPTIONS": braces(options)})

    # socket.io flood: error events, then the server ends the session.
    client = socketio.AsyncClient(reconnection=False)
    events: asyncio.Queue = asyncio.Queue()
    gone = asyncio.Event()
    client.on("uia", events.put_nowait, namespace="/uia")
    client.on("disconnect", lambda *a: gone.set(), namespace="/uia")
    await client.connect(server.http, namespaces=["/uia"], transports=["websocket"])
    for _ in range(30):
        await client.emit("uia", {"topic": "nope", "msg": "nope"}, namespace="/uia")
    await asyncio.wait_for(gone.wait(), 10)
    seen = []
    while not events.empty():
        seen.append(events.get_nowait()["message"]["code"])
    assert "rate_limited" in seen and seen[-1] == "flood", seen

    # socket.io oversize packet over WebSocket: Engine.IO closes that session; others live.
    big = socketio.AsyncClient(reconnection=False)
    big_gone = asyncio.Event()
    big.on("disconnect", lambda *a: big_gone.set(), namespace="/uia")
    await big.connect(server.http, namespaces=["/uia"], transports=["websocket"])
    await big.emit("uia", {"topic": "uia", "msg": "x" * 10_000}, namespace="/uia")
    await asyncio.wait_for(big_gone.wait(), 10)

    # ... and over long-polling: the POST is refused (HTTP 4xx), not a crash.
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.http}/socket.io/?EIO=4&transport=polling") as answer:
            sid = json.loads((await answer.text())[1:])["sid"]
        body = "40/uia," + "x" * 10_000
        url = f"{server.http}/socket.io/?EIO=4&transport=polling&sid={sid}"
        # As a real client, keep a GET pending: Engine.IO's close waits for it to collect
        # the CLOSE packet before answering the refused POST.
        # (Without one pending, python-engineio 4.x leaves the POST hanging: see
        # docs/reliability.md.)
        polling = asyncio.ensure_future(http.get(url))
        await asyncio.sleep(0.5)
        async with http.post(url, data=body) as answer:
            assert 400 <= answer.status < 500, answer.status
        (await asyncio.wait_for(polling, 10)).release()

    # plain WebSocket: over MAX_MESSAGE_BYTES is an error frame; over 16x the server drops it.
    async with plain_ws(f"{server.ws}/ws/uia/", max_size=None) as ws:
        await ws.send("y" * 5000)
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert reply["message"]["code"] == "too_large"
        await ws.send("y" * (16 * 4096 + 10))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code in (1009, 1006)  # autobahn drops it; uvicorn sends 1009

    async with aiohttp.ClientSession() as http:  # still serving
        async with http.get(f"{server.http}/graph/graph_instance?process_instance_id=x") as a:
            assert a.status == 404
    log = live_servers.procs[0].log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
