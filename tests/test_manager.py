"""What python-socketio keeps per connection: its manager's books (realtime.socketio.manager,
disconnects in O(own rooms)) and the handshake environ."""

import sys

import socketio

from realtime import shutdown
from realtime.socketio.manager import IndexedManager

NS = "/running_logger"


def _server(manager: socketio.AsyncManager) -> socketio.AsyncServer:
    return socketio.AsyncServer(async_mode="asgi", client_manager=manager)


def _rooms(manager: socketio.AsyncManager, sids: list[str]) -> dict:
    """Each namespace's rooms and their members as python-socketio reads them (emits go to
    ``get_participants``), clients' own rooms included (IndexedManager implies them)."""
    rooms = {}
    for ns, stored in manager.rooms.items():
        names = [*stored, *(sid for sid in sids if sid not in stored)]
        members = {room: dict(manager.get_participants(ns, room)) for room in names}
        rooms[ns] = {room: sids for room, sids in members.items() if sids}
    return rooms


def _state(manager: socketio.AsyncManager, sids: list[str]) -> dict:
    """What the rest of python-socketio reads of a manager."""
    return {
        "rooms": _rooms(manager, sids),
        "connected_room": {ns: dict(r[None]) for ns, r in manager.rooms.items()},
        "several_rooms": sorted(manager.get_participants(NS, [*sids, "ops"])),
        "pending_connect": {ns: list(s) for ns, s in manager.pending_connect.items()},
        "pending_disconnect": {ns: list(s) for ns, s in manager.pending_disconnect.items()},
        "callbacks": sorted(manager.callbacks),
        "get_rooms": [sorted(manager.get_rooms(sid, NS), key=str) for sid in sids],
        "connected": [manager.is_connected(sid, NS) for sid in sids],
    }


async def _scenario(manager: socketio.AsyncManager) -> list[dict]:
    """The same calls on a manager, its state after each step (sids made comparable)."""
    _server(manager)
    ids = iter(f"sid{n}" for n in range(100))
    manager.server.eio.generate_id = lambda: next(ids)
    states = []
    sids = [await manager.connect(f"eio{n}", NS) for n in range(4)]
    pending = await manager.pre_connect("eio9", NS)  # still in its connect handler
    states.append(_state(manager, [*sids, pending]))
    await manager.enter_room(sids[0], NS, "ops")
    await manager.enter_room(sids[1], NS, "ops")
    manager._generate_ack_id(sids[1], lambda *a: None)
    states.append(_state(manager, [*sids, pending]))
    await manager.leave_room(sids[0], NS, "ops")
    manager.pre_disconnect(sids[1], NS)
    manager.pre_disconnect(sids[2], NS)
    states.append(_state(manager, [*sids, pending]))
    await manager.disconnect(sids[1], NS)
    await manager.disconnect(pending, NS)
    states.append(_state(manager, [*sids, pending]))
    await manager.leave_room(sids[3], NS, sids[3])  # its own room, which python-socketio allows
    states.append(_state(manager, [*sids, pending]))
    await manager.enter_room(sids[3], NS, sids[3])
    states.append(_state(manager, [*sids, pending]))
    await manager.leave_room(sids[0], NS, sids[0])
    await manager.close_room("ops", NS)
    for sid in (sids[0], sids[2], sids[3]):
        await manager.disconnect(sid, NS)
    states.append(_state(manager, [*sids, pending]))
    return states


async def test_it_keeps_the_same_books_as_python_socketio():
    assert await _scenario(IndexedManager()) == await _scenario(socketio.AsyncManager())


class NoScans(dict):
    """A namespace's rooms that fail a test which walks all of them."""

    def copy(self):
        raise AssertionError("a disconnect scanned every room of the namespace")

    def items(self):
        raise AssertionError("a disconnect scanned every room of the namespace")


async def test_a_disconnect_visits_only_the_clients_own_rooms():
    manager = IndexedManager()
    _server(manager)
    sids = [await manager.connect(f"eio{n}", NS) for n in range(1000)]
    assert manager._client_rooms == {}  # None and its own room are implied: no entry per client
    manager.rooms[NS] = NoScans(manager.rooms[NS])

    manager.pre_disconnect(sids[500], NS)
    await manager.disconnect(sids[500], NS)

    assert not manager.is_connected(sids[500], NS)
    assert sids[500] not in manager.rooms[NS] and sids[500] not in manager.rooms[NS][None]
    assert len(manager.rooms[NS][None]) == 999 and NS not in manager.pending_disconnect
    assert manager.is_connected(sids[499], NS) and manager.is_connected(sids[501], NS)


async def test_the_socketio_server_is_built_with_it():
    from realtime.socketio.server import build_server

    assert isinstance(build_server().manager, IndexedManager)


def test_open_connections_counts_what_is_registered(monkeypatch):
    class Conn:
        async def close_for_shutdown(self) -> None: ...

    closes = []  # what the collector is told: one close each, with the count still open
    monkeypatch.setattr(shutdown.collector, "connection_closed", closes.append)
    before = shutdown.open_connections()
    a, b = Conn(), Conn()
    shutdown.register(a)
    shutdown.register(b)
    shutdown.unregister(a)
    assert shutdown.open_connections() == before + 1
    shutdown.unregister(a)  # a second disconnect path for the same connection: not counted
    shutdown.unregister(b)
    assert shutdown.open_connections() == before
    assert closes == [before + 1, before]


async def test_the_kept_handshake_environ_drops_only_what_the_handshake_used():
    from realtime.socketio.server import build_server

    server = build_server()
    kept = {
        "QUERY_STRING": "EIO=4",
        "HTTP_COOKIE": "a=b",
        "HTTP_USER_AGENT": "x",
        "HTTP_AUTHORIZATION": "Bearer t",
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/socket.io/",
        "REMOTE_ADDR": "127.0.0.1",
        "asgi.scope": {"client": ("10.0.0.7", 5000)},
    }
    spent = {
        "wsgi.input": object(),
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_UPGRADE": "websocket",
        "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
        # python-engineio's ASGI driver: the same constants for every request
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.async": True,
        "SERVER_SOFTWARE": "asgi",
        "SERVER_NAME": "asgi",
        "SERVER_PORT": "0",
        "REMOTE_PORT": "0",
        "SCRIPT_NAME": "",
    }
    for sid in ("eio1", "eio2"):  # keys built afresh per request, as python-engineio does
        environ = {"".join(["HTTP_", "COOKIE"]): "a=b", **kept, **spent}
        await server._handle_eio_connect(sid, environ)
        assert server.environ[sid] == kept

    (cookie1,) = [key for key in server.environ["eio1"] if key == "HTTP_COOKIE"]
    (cookie2,) = [key for key in server.environ["eio2"] if key == "HTTP_COOKIE"]
    assert cookie1 is cookie2  # one string for every connection
