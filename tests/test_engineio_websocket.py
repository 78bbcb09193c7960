"""realtime.socketio.websocket: python-engineio's WebSocket loop (open, then serve), leaner.

Driven in-process with python-engineio's own socket and a scripted client; the live tests
(test_socketio_live, test_socketio_node_client) cover it with real servers and clients.
"""

import asyncio
import time

import pytest
from engineio import async_socket
from engineio.async_drivers import asgi as engineio_asgi

from realtime.socketio.filter import kept_environ
from realtime.socketio.server import build_server
from realtime.socketio.websocket import (
    TrackedWebSocket,
    _packet_data,
    open_websocket,
    serve_websocket,
    translate_request,
)

GONE = object()  # the client closes the connection


class ScriptedClient(TrackedWebSocket):
    """The ASGI WebSocket as serve_websocket sees it, fed from a queue."""

    def __init__(self, sock) -> None:
        super().__init__(sock._websocket_handler, sock.server)
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.sent: list = []
        self.asgi_sent: list = []
        self.closed = False
        self.asgi_receive = self._receive  # the driver's __init__ sets it (to None)
        self.asgi_send = self._asgi_send  # what the driver sends the server itself

    async def _asgi_send(self, message) -> None:
        self.asgi_sent.append(message)

    async def _receive(self) -> dict:
        data = await self.incoming.get()
        if data is GONE:
            return {"type": "websocket.disconnect", "code": 1001}
        return {"type": "websocket.receive", "text": data}

    async def wait(self):  # what python-engineio's own loop reads
        return _packet_data(await self.asgi_receive(), 10**9)

    async def send(self, message) -> None:
        self.sent.append(message)

    async def close(self) -> None:
        self.closed = True
        self.incoming.put_nowait(GONE)  # as the ASGI servers tell the app of its own close


@pytest.fixture
def eio():
    server = build_server().eio
    server.ping_interval, server.ping_timeout = 25, 20
    return server


def socket_and_client(eio, *, polling: bool = False):
    sock = async_socket.AsyncSocket(eio, "sid-1")
    sock.connected = polling  # a polling session being upgraded, or a fresh WebSocket
    eio.sockets["sid-1"] = sock
    return sock, ScriptedClient(sock)


async def serve(sock, client) -> None:
    """What the driver does once accepted (parking aside: see test_parking)."""
    if await open_websocket(sock, client):
        await serve_websocket(sock, client)


async def ends(serving) -> None:
    """Assert the loop ends by itself within 2 s. Not wait_for: on timeout it cancels, the
    loop treats that as the server closing and ends normally, and wait_for returns."""
    serving = asyncio.ensure_future(serving)
    done, _ = await asyncio.wait({serving}, timeout=2)
    assert serving in done, "the WebSocket loop did not end"
    serving.result()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_sends_queued_packets_and_ends_when_the_client_goes(eio):
    sock, client = socket_and_client(eio)
    serving = asyncio.create_task(serve(sock, client))
    await settle()
    assert sock.connected and sock.upgraded

    await sock.send(async_socket.packet.Packet(async_socket.packet.MESSAGE, "hello"))
    await sock.send(async_socket.packet.Packet(async_socket.packet.MESSAGE, "again"))
    await settle()
    assert client.sent == ["4hello", "4again"]
    assert sock.queue._unfinished_tasks == 0  # what the direct broadcast path checks

    client.incoming.put_nowait(GONE)
    await ends(serving)
    assert sock.closed and client.closed


async def test_an_idle_connection_waits_in_one_task_not_four(eio):
    before = len(asyncio.all_tasks())
    sock, client = socket_and_client(eio)
    serving = asyncio.create_task(serve(sock, client))
    await settle()
    # The loop itself. python-engineio's loop also keeps a writer task waiting on the queue
    # and a wait_for task for each of the two (about 3.8 KiB per idle connection).
    assert len(asyncio.all_tasks()) - before == 1
    client.incoming.put_nowait(GONE)
    await ends(serving)


async def test_the_writer_runs_only_while_there_is_something_to_send(eio):
    sock, client = socket_and_client(eio)
    serving = asyncio.create_task(serve(sock, client))
    await settle()
    tasks = len(asyncio.all_tasks())
    await sock.send(async_socket.packet.Packet(async_socket.packet.PING))  # as a ping is sent
    assert len(asyncio.all_tasks()) == tasks + 1  # a writer, for this packet
    await settle()
    assert client.sent == ["2"] and len(asyncio.all_tasks()) == tasks  # sent, and gone
    for n in range(3):  # packets put back to back share one writer, in order
        await sock.send(async_socket.packet.Packet(async_socket.packet.MESSAGE, str(n)))
    assert len(asyncio.all_tasks()) == tasks + 1
    await settle()
    assert client.sent == ["2", "40", "41", "42"]
    client.incoming.put_nowait(GONE)
    await ends(serving)
    assert client.closed and sock.queue.on_put is None


async def test_a_failed_send_closes_and_stops_the_writer(eio):
    sock, client = socket_and_client(eio)

    async def broken(message) -> None:
        raise OSError("connection reset")

    client.send = broken
    serving = asyncio.create_task(serve(sock, client))
    await sock.send(async_socket.packet.Packet(async_socket.packet.MESSAGE, "lost"))
    await ends(serving)  # the writer closes, so the connection ends
    assert client.closed and sock.closed and sock.queue.on_put is None


async def test_cancelling_the_loop_does_not_wait_on_a_stuck_send(eio):
    # A client that stopped reading: its send never returns. When the server cancels the
    # connection (daphne after a disconnect, a test loop's teardown), the loop must end.
    sock, client = socket_and_client(eio)
    stuck = asyncio.Event()

    async def never_returns(message) -> None:
        stuck.set()
        await asyncio.Event().wait()

    client.send = never_returns
    serving = asyncio.create_task(serve(sock, client))
    await sock.send(async_socket.packet.Packet(async_socket.packet.MESSAGE, "stuck"))
    await asyncio.wait_for(stuck.wait(), 2)
    serving.cancel()
    await ends(serving)
    assert sock.closed and sock.queue.on_put is None
    assert len(asyncio.all_tasks()) == 1  # this test's own: the writer was cancelled too


async def test_python_engineios_own_loop_needs_four(eio):
    # The figure above, for python-engineio's handler on the same socket: the reason this exists.
    before = len(asyncio.all_tasks())
    sock, client = socket_and_client(eio)
    serving = asyncio.create_task(sock._websocket_handler(client))
    await settle()
    assert len(asyncio.all_tasks()) - before == 4
    client.incoming.put_nowait(GONE)
    await ends(serving)


async def test_a_client_that_leaves_a_ping_unanswered_is_told_and_disconnected(eio):
    eio.ping_interval, eio.ping_timeout = 0.05, 0.05
    sock, client = socket_and_client(eio)
    serving = asyncio.create_task(serve(sock, client))
    sock.schedule_ping()  # as python-engineio does after the handshake
    await ends(serving)
    assert client.sent == ["2", "1"]  # a PING, no PONG: a CLOSE, then the connection ends
    assert sock.closed and client.closed


async def test_python_engineios_own_ping_check_also_ends_the_websocket(eio):
    # Its service task may find the missed PONG before the ping schedule does. On its own it
    # would close only the Engine.IO socket, and send no CLOSE: the same as the schedule here.
    sock, client = socket_and_client(eio)
    serving = asyncio.create_task(serve(sock, client))
    await settle()
    sock.last_ping = time.time() - eio.ping_timeout - 1  # pinged, never answered
    assert not await sock.check_ping_timeout()
    await ends(serving)
    assert client.sent == ["1"] and client.closed
    assert sock.closed and "sid-1" not in eio.sockets


async def test_a_server_side_disconnect_sends_the_close_then_ends_the_websocket(eio):
    sock, client = socket_and_client(eio)
    serving = asyncio.create_task(serve(sock, client))
    await settle()
    await eio.disconnect("sid-1")
    await ends(serving)
    assert client.sent == ["1"] and client.closed and "sid-1" not in eio.sockets


async def test_a_client_that_answers_pings_stays(eio):
    eio.ping_interval, eio.ping_timeout = 0.05, 0.05
    sock, client = socket_and_client(eio)
    serving = asyncio.create_task(serve(sock, client))
    sock.schedule_ping()
    for _ in range(6):  # 0.3 s: six intervals, each past its timeout without the PONGs
        await asyncio.sleep(0.05)
        if client.sent and client.sent[-1] == "2":
            client.incoming.put_nowait("3")
    assert not serving.done() and not sock.closed and client.sent.count("2") >= 3
    client.incoming.put_nowait(GONE)
    await ends(serving)


async def test_an_oversized_packet_ends_the_connection(eio):
    sock, client = socket_and_client(eio)
    client.incoming.put_nowait("4" + "x" * (eio.max_http_buffer_size + 1))
    await ends(serve(sock, client))
    assert sock.closed and client.closed


@pytest.mark.parametrize("frame", ["9nonsense", ""])
async def test_a_frame_that_is_no_engineio_packet_closes_the_websocket_1003(eio, frame, caplog):
    sock, client = socket_and_client(eio)
    serving = asyncio.create_task(serve(sock, client))
    client.incoming.put_nowait("3")  # a PONG: served
    client.incoming.put_nowait(frame)
    await ends(serving)
    assert client.asgi_sent == [{"type": "websocket.close", "code": 1003}]
    assert sock.closed
    assert "malformed Engine.IO packet" in caplog.text and "Traceback" not in caplog.text


async def test_a_malformed_upgrade_probe_closes_the_websocket_1003(eio):
    sock, client = socket_and_client(eio, polling=True)
    serving = asyncio.create_task(serve(sock, client))
    client.incoming.put_nowait("x")
    await ends(serving)
    assert client.asgi_sent == [{"type": "websocket.close", "code": 1003}]
    assert not sock.upgraded and not sock.upgrading


async def test_upgrade_from_polling(eio):
    sock, client = socket_and_client(eio, polling=True)
    serving = asyncio.create_task(serve(sock, client))
    client.incoming.put_nowait("2probe")
    await settle()
    assert client.sent == ["3probe"] and sock.upgrading and not sock.upgraded
    assert sock.queue.get_nowait().packet_type == async_socket.packet.NOOP  # ends the poll
    sock.queue.task_done()
    client.incoming.put_nowait("5")
    await settle()
    assert sock.upgraded and not sock.upgrading
    client.incoming.put_nowait(GONE)
    await ends(serving)


@pytest.mark.parametrize("first, second", [("2nope", None), ("2probe", "4not-an-upgrade")])
async def test_a_failed_upgrade_leaves_the_polling_session_alone(eio, first, second):
    sock, client = socket_and_client(eio, polling=True)
    client.incoming.put_nowait(first)
    if second:
        client.incoming.put_nowait(second)
    await ends(serve(sock, client))
    assert not sock.upgraded and not sock.upgrading and not sock.closed


def test_the_driver_is_python_engineios_asgi_websocket():
    assert issubclass(TrackedWebSocket, engineio_asgi.WebSocket)


def _handshake_scope(scope_type: str) -> dict:
    return {
        "type": scope_type,
        "path": "/socket.io/",
        "query_string": b"EIO=4&transport=websocket&process_instance_id=pi-1",
        "headers": [
            (b"host", b"example.test"),
            (b"origin", b"https://example.test"),
            (b"x-forwarded-proto", b"https"),
            (b"cookie", b"a=1"),
            (b"cookie", b"b=2"),  # twice: joined with a comma, as python-engineio does
            (b"x-odd", b"\xff\xfe"),  # does not decode: left out, as python-engineio does
            (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
            (b"content-type", b"text/plain"),  # unprefixed in WSGI, as python-engineio names it
        ],
        "client": ("10.0.0.7", 5000),
    }


async def _connect_event() -> dict:
    return {"type": "websocket.connect"}


async def test_websocket_handshakes_keep_the_environ_python_engineio_would_give():
    # The lean translation skips what only python-engineio's HTTP side uses; what a
    # connection keeps (and its connect handlers read) is the same as from its own.
    scope = _handshake_scope("websocket")
    ours = await translate_request(scope, _connect_event, None)
    theirs = await engineio_asgi.translate_request(scope, _connect_event, None)
    assert kept_environ(ours) == kept_environ(theirs)
    assert ours["HTTP_COOKIE"] == "a=1,b=2" and ours["wsgi.url_scheme"] == "https"
    assert "HTTP_X_ODD" not in ours and "wsgi.input" not in ours  # no class per request
    assert ours["CONTENT_TYPE"] == "text/plain" and "HTTP_CONTENT_TYPE" not in ours
    assert await translate_request(scope, _gone_event, None) == {}


async def _gone_event() -> dict:
    return {"type": "websocket.disconnect", "code": 1001}


async def test_http_requests_keep_python_engineios_own_translation():
    scope = {**_handshake_scope("http"), "method": "POST"}
    body = {"type": "http.request", "body": b"4hello", "more_body": False}

    async def receive() -> dict:
        return body

    environ = await translate_request(scope, receive, None)
    assert environ["REQUEST_METHOD"] == "POST"
    assert await environ["wsgi.input"].read() == b"4hello"  # long-polling reads its body
