"""realtime.socketio.websocket: python-engineio's WebSocket loop (open, then serve), leaner.

Driven in-process with python-engineio's own socket and a scripted client; the live tests
(test_socketio_live, test_socketio_node_client) cover it with real servers and clients.
"""

import asyncio

import pytest
from engineio import async_socket
from engineio.async_drivers import asgi as engineio_asgi

from realtime.socketio.server import build_server
from realtime.socketio.websocket import (
    TrackedWebSocket,
    _packet_data,
    open_websocket,
    serve_websocket,
)

GONE = object()  # the client closes the connection


class ScriptedClient(TrackedWebSocket):
    """The ASGI WebSocket as serve_websocket sees it, fed from a queue."""

    def __init__(self, sock) -> None:
        super().__init__(sock._websocket_handler, sock.server)
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.sent: list = []
        self.closed = False
        self.asgi_receive = self._receive  # the driver's __init__ sets it (to None)

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
    await asyncio.wait_for(serving, 2)
    assert sock.closed and client.closed


async def test_an_idle_connection_waits_in_two_tasks_not_four(eio):
    before = len(asyncio.all_tasks())
    sock, client = socket_and_client(eio)
    serving = asyncio.create_task(serve(sock, client))
    await settle()
    # The loop itself and its writer. python-engineio's loop also keeps a wait_for task for
    # each of them (2.9 KiB per idle connection on Python 3.11).
    assert len(asyncio.all_tasks()) - before == 2
    client.incoming.put_nowait(GONE)
    await asyncio.wait_for(serving, 2)


async def test_python_engineios_own_loop_needs_four(eio):
    # The figure above, for python-engineio's handler on the same socket: the reason this exists.
    before = len(asyncio.all_tasks())
    sock, client = socket_and_client(eio)
    serving = asyncio.create_task(sock._websocket_handler(client))
    await settle()
    assert len(asyncio.all_tasks()) - before == 4
    client.incoming.put_nowait(GONE)
    await asyncio.wait_for(serving, 2)


async def test_a_silent_client_is_closed_after_ping_interval_plus_timeout(eio):
    eio.ping_interval, eio.ping_timeout = 0.05, 0.05
    sock, client = socket_and_client(eio)
    await asyncio.wait_for(serve(sock, client), 2)
    assert sock.closed and client.closed


async def test_an_oversized_packet_ends_the_connection(eio):
    sock, client = socket_and_client(eio)
    client.incoming.put_nowait("4" + "x" * (eio.max_http_buffer_size + 1))
    await asyncio.wait_for(serve(sock, client), 2)
    assert sock.closed and client.closed


async def test_unknown_packets_are_ignored(eio):
    sock, client = socket_and_client(eio)
    serving = asyncio.create_task(serve(sock, client))
    client.incoming.put_nowait("9nonsense")
    client.incoming.put_nowait("3")  # a PONG: still served after the bad packet
    await settle()
    assert not serving.done()
    client.incoming.put_nowait(GONE)
    await asyncio.wait_for(serving, 2)


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
    await asyncio.wait_for(serving, 2)


@pytest.mark.parametrize("first, second", [("2nope", None), ("2probe", "4not-an-upgrade")])
async def test_a_failed_upgrade_leaves_the_polling_session_alone(eio, first, second):
    sock, client = socket_and_client(eio, polling=True)
    client.incoming.put_nowait(first)
    if second:
        client.incoming.put_nowait(second)
    await asyncio.wait_for(serve(sock, client), 2)
    assert not sock.upgraded and not sock.upgrading and not sock.closed


def test_the_driver_is_python_engineios_asgi_websocket():
    assert issubclass(TrackedWebSocket, engineio_asgi.WebSocket)
