"""The broadcast fast path (realtime.wire): shared frames written straight to idle sockets.

What must hold: the frame is a valid WebSocket text frame; a direct write never overtakes a
frame queued earlier; the path is taken exactly where it is safe (uvicorn and daphne without
compression) and every client, fast path or not, gets every broadcast once and in order.
"""

import asyncio
import json
import sys
import threading

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.protocol import State

from realtime import backlog, shutdown, wire
from realtime.backlog import Backlog
from realtime.intake import QueueIntake
from realtime.outbox import Outbox
from realtime.parking import PARKED_LOOP
from realtime.publish import apublish
from realtime.queues import LeanEvent, LeanQueue
from realtime.socketio import websocket
from realtime.wire import DIRECT_WRITER, SharedFrame
from tests.clients import SocketIOClient, plain_ws

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
async def test_shared_frame_is_one_unmasked_websocket_text_frame(size):
    text = "é" * (size // 2) + "x" * (size % 2)  # multi-byte UTF-8: length is in bytes
    # Parsed as a client does (websockets' sans-I/O client refuses masked server frames).
    client = ClientProtocol("ws://x/", state=State.OPEN, max_size=None)
    client.receive_data(SharedFrame(text).wire)
    [frame] = client.events_received()
    assert (frame.opcode, frame.fin, frame.data.decode()) == (Opcode.TEXT, True, text)


class Writer:
    """A direct writer that can be told to refuse (as a paused or closing socket does)."""

    def __init__(self, log: list) -> None:
        self.log, self.accepting = log, True

    def write(self, frame: SharedFrame) -> bool:
        if self.accepting:
            self.log.append(("direct", frame.text))
        return self.accepting


async def test_direct_writes_never_overtake_queued_frames():
    log: list = []
    gate = asyncio.Event()

    async def asgi_send(frame: SharedFrame) -> None:
        await gate.wait()  # a slow socket: the writer task is stuck in this send
        log.append(("queued", frame.text))

    outbox = Outbox(asgi_send, 10)
    outbox.direct = writer = Writer(log)
    outbox.start()
    outbox.push(SharedFrame("a"))  # idle: straight to the socket
    writer.accepting = False
    outbox.push(SharedFrame("b"))  # refused (socket paused): queued, writer task sends it
    await asyncio.sleep(0.01)
    writer.accepting = True
    outbox.push(SharedFrame("c"))  # socket writable again, but "b" is still being sent
    gate.set()
    assert await outbox.flush(1.0)
    outbox.push(SharedFrame("d"))  # idle again
    assert log == [("direct", "a"), ("queued", "b"), ("queued", "c"), ("direct", "d")]
    await outbox.close()


def direct_paths() -> dict[str, bool]:
    """For each live connection of this process: is the fast path engaged?"""
    found = {}
    for connection in list(shutdown._connections):
        kind = "socketio" if hasattr(connection, "eio_socket") else "ws"
        found.setdefault(kind, []).append(connection.outbox.direct is not None)
    return found


def uvicorn_protocol(connection) -> object:
    """The uvicorn protocol behind a connection on the fast path (either transport)."""
    direct = connection.outbox.direct  # socket.io: EngineIODirect; plain: the UvicornWriter
    writer = direct.websocket.writer if hasattr(direct, "websocket") else direct
    return writer._protocol


async def first_broadcast_reaches(ws, sio) -> None:
    """One broadcast both clients must get (it also settles the socket.io direct path)."""
    await apublish("running_logger", "running_logger", {"n": -1})
    assert (await sio.next())["message"] == {"n": -1}
    assert json.loads(await ws.recv())["message"] == {"n": -1}


async def first_socketio_broadcast(ws) -> None:
    """A broadcast reaches a raw Engine.IO WebSocket as a socket.io event packet."""
    await apublish("running_logger", "running_logger", {"n": -1})
    packet = await asyncio.wait_for(ws.recv(), 5)
    assert packet.startswith('42/running_logger,["running_logger",'), packet
    assert json.loads(packet[len("42/running_logger,") :])[1]["message"] == {"n": -1}


async def burst_arrives_whole_and_in_order(ws, sio, count: int, pad: str = "") -> None:
    """Publish ``count`` broadcasts back to back; both clients get each once, in order."""
    for n in range(count):  # some writes go direct, some queue behind a send
        await apublish("running_logger", "running_logger", {"n": n, "pad": pad})
    got_ws = [json.loads(await asyncio.wait_for(ws.recv(), 10))["message"]["n"]]
    while got_ws[-1] != count - 1:
        got_ws.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["message"]["n"])
    got_sio = [(await sio.next(10))["message"]["n"] for _ in range(count)]
    assert got_ws == list(range(count))
    assert got_sio == list(range(count))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "uvicorn_server, compressed_client, compression_setting, expect_deflate",
    [
        (False, True, False, False),
        (True, False, False, False),
        (True, True, False, False),
        (True, True, True, True),
    ],
    indirect=["uvicorn_server"],
    ids=["server-deflate-off", "client-offers-none", "deflate-declined", "deflate-negotiated"],
)
async def test_fast_path_where_safe_and_every_broadcast_arrives_in_order(
    uvicorn_server, compressed_client, compression_setting, expect_deflate, hub, settings
):
    settings.REALTIME = {**settings.REALTIME, "WEBSOCKET_COMPRESSION": compression_setting}
    port, count = uvicorn_server, 300
    compression = "deflate" if compressed_client else None
    sio = SocketIOClient("running_logger")
    async with plain_ws(f"ws://127.0.0.1:{port}/ws/running_logger/", compression=compression) as ws:
        agreed = ws.response.headers.get("Sec-WebSocket-Extensions")
        assert (agreed is not None) == expect_deflate, agreed
        await sio.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        await first_broadcast_reaches(ws, sio)
        paths = direct_paths()
        assert paths["ws"] == [not expect_deflate]  # a compressed frame cannot be shared
        assert paths["socketio"] == [True]  # aiohttp (python-socketio's client) never compresses
        await burst_arrives_whole_and_in_order(ws, sio, count)
        await sio.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore:.*(deprecated|ws_handler)")  # uvicorn's legacy protocol
@pytest.mark.parametrize(
    "uvicorn_server",
    [
        True,
        {"ws": "websockets", "ws_per_message_deflate": True},
        {"ws": "wsproto", "ws_per_message_deflate": True},
    ],
    ids=["sansio", "legacy-websockets", "wsproto"],  # uvicorn's default protocol, its others
    indirect=True,
)
@pytest.mark.parametrize("compression_setting", [False, True], ids=["default", "compression-on"])
async def test_socketio_websocket_declines_the_servers_deflate_by_default(
    uvicorn_server, compression_setting, hub, settings
):
    settings.REALTIME = {**settings.REALTIME, "WEBSOCKET_COMPRESSION": compression_setting}
    url = f"ws://127.0.0.1:{uvicorn_server}/socket.io/?EIO=4&transport=websocket"
    async with plain_ws(url, compression="deflate") as ws:  # as browsers offer it
        agreed = ws.response.headers.get("Sec-WebSocket-Extensions")
        assert (agreed is not None) == compression_setting, agreed
        assert (await ws.recv()).startswith("0{")  # Engine.IO open, on either framing
        await ws.send("40/running_logger,")
        assert (await ws.recv()).startswith("40/running_logger,{")
        await first_socketio_broadcast(ws)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("uvicorn_server", [False], indirect=True)
async def test_broadcasts_that_queued_up_go_out_together_whole_and_in_order(
    uvicorn_server, hub, monkeypatch
):
    # The server's loop is kept busy while another loop publishes: the broadcasts wait in
    # Redis, the hub finds them queued and writes several to each connection at once.
    port, count = uvicorn_server, 40
    # Two clients cost the hub next to nothing per broadcast, so it would not hold any; hold
    # as it does for many recipients (realtime.backlog decides when; tested there).
    monkeypatch.setattr(Backlog, "_hold_limit", lambda self: backlog.MAX_HOLD_SECONDS)
    writes: list[int] = []
    write_all = wire.UvicornWriter._write_all
    monkeypatch.setattr(
        wire.UvicornWriter,
        "_write_all",
        lambda self, chunks: writes.append(len(chunks)) or write_all(self, chunks),
    )
    sio = SocketIOClient("running_logger")
    async with plain_ws(f"ws://127.0.0.1:{port}/ws/running_logger/") as ws:
        await sio.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        await first_broadcast_reaches(ws, sio)

        async def publish_all() -> None:
            for n in range(count):
                await apublish("running_logger", "running_logger", {"n": n})

        publisher = threading.Thread(target=asyncio.run, args=(publish_all(),))
        publisher.start()
        publisher.join(30)  # blocks this (the server's) loop while all are published

        got_ws = [json.loads(await asyncio.wait_for(ws.recv(), 10))["message"]["n"]]
        while got_ws[-1] != count - 1:
            got_ws.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["message"]["n"])
        got_sio = [(await sio.next(10))["message"]["n"] for _ in range(count)]
        assert got_ws == got_sio == list(range(count))
        assert writes and max(writes) > 1, writes  # several broadcasts went out in one write
        await sio.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("uvicorn_server", [True], indirect=True)
@pytest.mark.parametrize("compression_setting", [False, True], ids=["default", "compression-on"])
async def test_later_handshakes_skip_the_deflate_negotiation(
    uvicorn_server, compression_setting, hub, settings
):
    # Declining per connection would still let uvicorn negotiate deflate (zlib streams,
    # about 50 KB) for every client that asks; once declined, the server offers nothing.
    settings.REALTIME = {**settings.REALTIME, "WEBSOCKET_COMPRESSION": compression_setting}
    url = f"ws://127.0.0.1:{uvicorn_server}/ws/running_logger/"
    agreed = []
    async with plain_ws(url, compression="deflate") as first:
        async with plain_ws(url, compression="deflate") as second:
            await apublish("running_logger", "running_logger", {"n": 1})
            for ws in (first, second):  # both subscribed, so both accepted and set up
                agreed.append(ws.response.headers.get("Sec-WebSocket-Extensions") is not None)
                assert json.loads(await asyncio.wait_for(ws.recv(), 5))["message"] == {"n": 1}
            directs = [c.outbox.direct for c in shutdown._connections]
    assert agreed == [compression_setting] * 2
    assert [d is None for d in directs] == [compression_setting] * 2  # compressed: no sharing
    if not compression_setting:
        protocols = [direct._protocol for direct in directs]
        assert [p.config.ws_per_message_deflate for p in protocols] == [False, False]
        # The first was offered deflate (and declined it); the second was offered nothing.
        offered = sorted(len(p.conn.available_extensions) for p in protocols)
        assert offered == [0, 1], offered


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("uvicorn_server", [False], indirect=True)
async def test_uvicorn_keeps_less_per_connection_once_accepted(uvicorn_server, hub):
    # uvicorn would keep each connection's parsed request and response (1.9 KiB) for ever,
    # an asyncio.Queue and Event (3.8 KiB) where a LeanQueue and LeanEvent do, and a
    # keepalive timer that Engine.IO's heartbeat makes redundant on socket.io connections.
    sio = SocketIOClient("running_logger")
    async with plain_ws(f"ws://127.0.0.1:{uvicorn_server}/ws/running_logger/") as ws:
        await sio.connect(f"http://127.0.0.1:{uvicorn_server}", transports=["websocket"])
        await first_broadcast_reaches(ws, sio)
        connections = list(shutdown._connections)
        protocols = [uvicorn_protocol(connection) for connection in connections]
        assert len(protocols) == 2 and all(p.handshake_complete for p in protocols)
        assert [(p.request, p.response) for p in protocols] == [(None, None)] * 2
        lean = [(type(p.queue), type(p.writable)) for p in protocols]
        assert lean == [(LeanQueue, LeanEvent)] * 2
        assert all(p.writable.is_set() for p in protocols)
        # Engine.IO pings socket.io clients: uvicorn's own keepalive stops there, and only there.
        keepalive = {
            "socketio" if hasattr(connection, "eio_socket") else "ws": p.ping_timer is not None
            for connection, p in zip(connections, protocols, strict=True)
        }
        assert keepalive == {"socketio": False, "ws": True}
        # socket.io's handshake headers live on in python-socketio's environ (the namespace
        # connect handlers read them there): the scope's copy goes; a plain consumer keeps it.
        headers = {
            "socketio" if hasattr(connection, "eio_socket") else "ws": len(p.scope["headers"])
            for connection, p in zip(connections, protocols, strict=True)
        }
        assert headers["socketio"] == 0 and headers["ws"] > 0, headers
        # So do the scope's other handshake-only keys; what uvicorn and the admission read
        # after the accept (client, path, query string) stays.
        handshake_only = {"extensions", "subprotocols", "state", "asgi", "raw_path"}
        kept = {
            "socketio" if hasattr(connection, "eio_socket") else "ws": (
                sorted(handshake_only & p.scope.keys()),
                {"client", "path", "query_string"} <= p.scope.keys(),
            )
            for connection, p in zip(connections, protocols, strict=True)
        }
        assert kept == {"socketio": ([], True), "ws": (sorted(handshake_only), True)}, kept
        (eio_socket,) = [c.eio_socket for c in connections if hasattr(c, "eio_socket")]
        socketio_server = eio_socket.server.handlers["connect"].__self__
        environ = socketio_server.environ[eio_socket.sid]
        assert environ["HTTP_HOST"] == f"127.0.0.1:{uvicorn_server}"
        # Its read loop takes events off the (swapped) queue itself (realtime.intake).
        assert type(websocket._websockets[eio_socket].intake) is QueueIntake
        # What both protocols hold alike (the server's config, app, loop...; defaults) is
        # kept once, by a subclass of uvicorn's protocol; each keeps its own few (36 in its
        # own dict would take 1.5 KiB) and still reads the rest.
        assert all(type(p).__mro__[1].__name__ == "WebSocketsSansIOProtocol" for p in protocols)
        assert all(len(vars(p)) <= 12 and sys.getsizeof(vars(p)) < 500 for p in protocols)
        assert protocols[0].config is protocols[1].config
        assert protocols[0].config.port == uvicorn_server
        assert [p.close_sent for p in protocols] == [False, False]
        # socket.io took the direct-writer factory out of the scope after the accept (a plain
        # consumer reads a copy of the scope that Channels' router made); the parked read
        # loop's slot stays for the connection's life.
        scope_keys = {
            "socketio" if hasattr(connection, "eio_socket") else "ws": (
                DIRECT_WRITER in p.scope,
                PARKED_LOOP in p.scope,
            )
            for connection, p in zip(connections, protocols, strict=True)
        }
        assert scope_keys == {"socketio": (False, True), "ws": (True, True)}
        # Both sessions name their group with the one string the hub keys it by (interned).
        sessions = [(name, m) for name, members in hub.members.items() for m in members]
        assert len(sessions) == 2
        assert all(m._groups == (name,) and m._groups[0] is name for name, m in sessions)
        await burst_arrives_whole_and_in_order(ws, sio, 20)  # and nothing missed them
        # What clients send still reaches the app through the swapped receive queue.
        await ws.send('{"action": "subscribe", "topic": "nonsense"}')
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert error["topic"] == "error" and error["message"]["code"] == "unknown_topic"
        await sio.client.emit("running_logger", "just a string", namespace="/running_logger")
        assert (await sio.next())["message"]["code"] == "not_an_object"
        await sio.disconnect()
    # SendGuard added its two keys to the server's own scope: gone with the connection, so
    # the scope does not hold the protocol in a cycle (through the raw send).
    for _ in range(100):
        if not any(DIRECT_WRITER in p.scope or PARKED_LOOP in p.scope for p in protocols):
            break
        await asyncio.sleep(0.05)
    assert [sorted(k for k in p.scope if k.startswith("realtime.")) for p in protocols] == [[]] * 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "uvicorn_server",
    [{"ws_per_message_deflate": False, "ws_ping_interval": 0.2, "ws_ping_timeout": 5}],
    indirect=True,
)
async def test_uvicorn_keepalive_still_pings_plain_websockets_after_the_accept(uvicorn_server, hub):
    # Its timers and ping state are among what the protocol shares with other connections
    # until the first ping (realtime.slimming): each ping and pong must land in its own.
    sio = SocketIOClient("running_logger")
    async with plain_ws(f"ws://127.0.0.1:{uvicorn_server}/ws/running_logger/") as ws:
        await sio.connect(f"http://127.0.0.1:{uvicorn_server}", transports=["websocket"])
        await first_broadcast_reaches(ws, sio)
        await asyncio.sleep(1.0)  # about five pings
        by_kind = {
            "socketio" if hasattr(c, "eio_socket") else "ws": uvicorn_protocol(c)
            for c in shutdown._connections
        }
        plain, socketio = by_kind["ws"], by_kind["socketio"]
        assert vars(plain)["last_ping_rtt"] > 0  # pongs came back, measured per connection
        assert "last_ping_rtt" not in vars(socketio) and socketio.ping_timer is None
        assert type(plain) is not type(socketio)  # their ping intervals differ
        await burst_arrives_whole_and_in_order(ws, sio, 5)
    await sio.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("uvicorn_server", [False], indirect=True)
async def test_a_closed_socketio_connection_leaves_nothing_behind(uvicorn_server, hub):
    # The Engine.IO WebSocket registry is keyed weakly by the Engine.IO socket, but its
    # value refers to that socket: the entry must go when the connection does, or every
    # closed connection would stay in memory for ever.
    from realtime.socketio import websocket

    before = len(websocket._websockets)
    clients = [SocketIOClient("running_logger") for _ in range(3)]
    for client in clients:
        await client.connect(f"http://127.0.0.1:{uvicorn_server}", transports=["websocket"])
    assert len(websocket._websockets) == before + 3
    for client in clients:
        await client.disconnect()
    for _ in range(100):
        if len(websocket._websockets) == before:
            break
        await asyncio.sleep(0.05)
    assert len(websocket._websockets) == before


@pytest.mark.parametrize("event", [{}, {"topic": "running_logger", "message": {"é": [1, None]}}])
@pytest.mark.parametrize("seq", [None, 7])
async def test_codecs_give_the_same_frame_from_published_json_or_from_the_event(event, seq):
    from realtime.codecs import JSON_EVENTS, LEGACY_MSG
    from realtime.protocol import broadcast_message, dumps
    from realtime.socketio.codec import SocketIOEventCodec

    published = broadcast_message(
        "g", dumps(event), topic="running_logger", key="k", seq=seq, offset="1-0"
    )
    local = {"event": event, "key": "k", "seq": seq, "offset": "1-0"}
    for codec in (JSON_EVENTS, LEGACY_MSG, SocketIOEventCodec("/running_logger", "running_logger")):
        assert codec.encode(published).text == codec.encode(local).text
    expected = event if seq is None else {**event, "seq": seq}
    assert json.loads(JSON_EVENTS.encode(published).text) == expected


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
async def test_daphne_fast_path_delivers_a_burst_whole_and_in_order(live_servers):
    # daphne (Twisted) takes frames straight to the socket while nothing is buffered and
    # hands the rest to Twisted: a burst must still arrive complete and in order.
    server, count = live_servers.start("daphne"), 400
    sio = SocketIOClient("running_logger")
    async with plain_ws(f"{server.ws}/ws/running_logger/") as ws:
        await sio.connect(server.http, transports=["websocket"])
        await first_broadcast_reaches(ws, sio)
        await burst_arrives_whole_and_in_order(ws, sio, count, pad="x" * 3000)
        await sio.disconnect()
