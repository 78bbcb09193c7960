"""Engine.IO's ASGI WebSocket driver, kept track of so broadcasts can skip its queue.

Why: python-engineio sends each packet through the socket's queue and one writer task per
socket (a wake-up and an ASGI send per recipient per broadcast). For sockets on WebSocket,
a broadcast's frame is the same bytes for all (realtime.wire). This driver remembers, per
Engine.IO socket, its raw ASGI connection and how many of Engine.IO's own sends are under
way, so ``engineio_direct`` can write a shared frame straight to the socket whenever that
cannot overtake a packet Engine.IO queued earlier (a CONNECT acknowledgement, a ping, a
reply). python-engineio keeps the protocol: handshake, polling, upgrade, pings.

The driver also runs the socket's WebSocket loop itself (``serve_websocket``), for memory:
python-engineio's own loop wraps each wait in ``asyncio.wait_for``, which on Python 3.11 is
one more task and timer per wait, and an idle connection is always waiting twice (its writer
for the queue, its reader for the client): 3.5 KiB of each idle connection's ~45, and a task
per packet received. Here an idle connection waits once, in its reader, with no timer (see
pings for silent clients), at the top of the ASGI stack (realtime.parking), on a bare Future
of the server's receive queue (realtime.intake); its writer runs only while Engine.IO has
queued something (realtime.socketio.writer). It also closes (1003) a WebSocket that sends
something that is no Engine.IO packet, which python-engineio would log with a traceback.
"""

import asyncio
import logging
from typing import Any

import engineio
from engineio import exceptions as engineio_exceptions
from engineio import packet as eio_packet
from engineio.async_drivers import asgi as engineio_asgi

from ..intake import QueueIntake, ReceiveIntake, intake
from ..parking import run_or_park
from ..queues import LeanQueue
from ..slimming import slim_socketio_scope
from ..wire import DirectWriter, SharedFrame, scope_direct_writer
from . import pings
from .writer import QueueWriter, WebSocketEngineIOSocket

logger = logging.getLogger(__name__)

# Engine.IO v4 packet types a client may send over WebSocket (open..noop).
PACKET_TYPES = frozenset("0123456")

# Engine.IO socket -> its driver. A plain dict, not a weak one: each entry's value refers
# to its key, so a weak entry would live as long (a weak reference per connection for
# nothing); every way out of the driver removes its entry (``_forget``).
_websockets: "dict[Any, TrackedWebSocket]" = {}


class TrackedWebSocket(engineio_asgi.WebSocket):
    """The ASGI driver's WebSocket, registered under its Engine.IO socket."""

    def __init__(self, handler: Any, server: Any) -> None:
        super().__init__(handler, server)
        self.sending = 0
        self.writer: DirectWriter | None = None
        self.intake: QueueIntake | ReceiveIntake | None = None  # set after the accept
        # The handler is the Engine.IO socket's bound _websocket_handler.
        self.eio_socket = getattr(handler, "__self__", None)

    async def __call__(self, environ: dict) -> Any:
        """Accept, find the direct writer, open the socket, then run or park its read loop."""
        sock = self.eio_socket
        if sock is None:  # not a socket's handler: python-engineio's way
            return await super().__call__(environ)
        _websockets[sock] = self
        try:
            self.asgi_receive, self.asgi_send = environ["asgi.receive"], environ["asgi.send"]
            await self.asgi_send({"type": "websocket.accept"})
            scope = environ.get("asgi.scope") or {}
            self.writer = scope_direct_writer(scope, own_heartbeat=True)  # Engine.IO pings
            slim_socketio_scope(scope)
            self.intake = intake(self.asgi_receive)  # after the accept, which slims
            opened = await open_websocket(sock, self)
        except BaseException:
            _forget(sock)
            raise
        if opened:
            await run_or_park(scope, serve_websocket(sock, self))  # which forgets it at the end
        else:
            _forget(sock)
        return ""

    async def send(self, message: Any) -> None:
        """Engine.IO's own send, counted so a direct write never overtakes it."""
        self.sending += 1
        try:
            await super().send(message)
        finally:
            self.sending -= 1


async def open_websocket(sock: Any, ws: TrackedWebSocket) -> bool:
    """Engine.IO's side of a new WebSocket: the upgrade of a polling session, or a new one."""
    if sock.connected:
        return await _upgraded(sock, ws)
    sock.connected = sock.upgraded = True  # straight onto WebSocket: nothing to upgrade
    return True


async def serve_websocket(sock: Any, ws: TrackedWebSocket) -> None:
    """python-engineio's ``AsyncSocket._websocket_handler`` once open, without a task per
    wait, reading the ASGI connection itself (see ``_packet_data``); one frame, as it is what
    an idle connection waits in (see realtime.parking)."""
    writer = QueueWriter(sock, ws)
    sock.__class__ = WebSocketEngineIOSocket  # its close ends the WebSocket (see there)
    sock.server.logger.info("%s: Upgrade to websocket successful", sock.sid)
    events = ws.intake or ReceiveIntake(ws.asgi_receive)
    size_limit = sock.server.max_http_buffer_size
    try:
        while True:
            # No timeout per wait: a client silent for too long misses a ping's deadline
            # (pings), its CLOSE ends the connection, and the server tells this loop.
            try:
                while (event := events.poll()) is None:
                    await events.wait()  # an idle connection waits here, on a bare Future
                data = _packet_data(event, size_limit)
            except asyncio.CancelledError:  # the server is ending the connection
                writer.abandon()  # so no send may hold this up (a stuck client's would)
                break
            except MalformedPacket:
                await _refuse_malformed(ws)
                break
            except Exception:  # closed by the client or too large
                break
            try:
                await sock.receive(eio_packet.Packet(encoded_packet=data))
            except engineio_exceptions.UnknownPacketError:
                pass
            except engineio_exceptions.SocketIsClosedError:
                sock.server.logger.info("Receive error -- socket is closed")
                break
            except Exception:  # a bug in a handler must not end the connection's bookkeeping
                sock.server.logger.exception("Unknown receive error")
        await writer.finish()
        await sock.close(wait=False, abort=True, reason=sock.server.reason.TRANSPORT_CLOSE)
    finally:
        _forget(sock)
        # What python-engineio's request handler does once its WebSocket handler returns,
        # which, with the loop parked (realtime.parking), was before the connection ended.
        if sock.closed and sock.server.sockets.get(sock.sid) is sock:
            del sock.server.sockets[sock.sid]


def _forget(sock: Any) -> None:
    # Else the entry would keep the closed connection's ~80 objects alive for ever.
    _websockets.pop(sock, None)


class MalformedPacket(ValueError):
    """A text frame that is not an Engine.IO packet (empty, or of an unknown type)."""


def _packet_data(event: dict, size_limit: int) -> Any:
    """An Engine.IO packet out of an ASGI event, as the driver's ``wait`` reads it (one
    coroutine frame less per idle connection); OSError once closed, ValueError if too large,
    MalformedPacket if it is no Engine.IO packet.

    The check is here, on the one read of every frame, rather than in a wrapper around the
    ASGI receive: python-engineio would log each bad packet with a traceback (tests/test_fuzz),
    and a wrapper is one more coroutine frame kept by every idle connection.
    """
    if event["type"] != "websocket.receive":
        raise OSError("the WebSocket is closed")
    data = event.get("bytes")
    if data is None:
        data = event.get("text")
        if data is not None and (not data or data[0] not in PACKET_TYPES):
            raise MalformedPacket("not an Engine.IO packet")
    if data is None:
        raise OSError("a WebSocket message without data")
    if len(data) > size_limit:
        raise ValueError("packet is too large")
    return data


async def _refuse_malformed(ws: TrackedWebSocket) -> None:
    logger.info("Closed a WebSocket that sent a malformed Engine.IO packet")
    try:
        await ws.asgi_send({"type": "websocket.close", "code": 1003})
    except Exception:  # the client is gone already: the connection ends either way
        pass


async def _next_packet(sock: Any, ws: TrackedWebSocket) -> Any:
    return _packet_data(await ws.asgi_receive(), sock.server.max_http_buffer_size)


async def _upgraded(sock: Any, ws: TrackedWebSocket) -> bool:
    """The polling-to-WebSocket upgrade: PING probe, PONG probe, then UPGRADE."""
    sock.upgrading = True  # python-engineio holds packet sends meanwhile
    try:
        probe = eio_packet.Packet(encoded_packet=await _next_packet(sock, ws))
        if probe.packet_type != eio_packet.PING or probe.data != "probe":
            sock.server.logger.info("%s: Failed websocket upgrade, no PING packet", sock.sid)
            return False
        await ws.send(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
        await sock.queue.put(eio_packet.Packet(eio_packet.NOOP))  # ends the pending poll
        upgrade = eio_packet.Packet(encoded_packet=await _next_packet(sock, ws))
        if upgrade.packet_type != eio_packet.UPGRADE:
            sock.upgraded = False
            sock.server.logger.info(
                "%s: Failed websocket upgrade, expected UPGRADE packet", sock.sid
            )
            return False
        sock.upgraded = True
        return True
    except MalformedPacket:
        await _refuse_malformed(ws)
        return False
    except (OSError, ValueError):  # closed, or too large
        return False
    finally:
        sock.upgrading = False


class EngineIODirect:
    """Writes shared frames to an upgraded Engine.IO socket when nothing of its own is pending."""

    __slots__ = ("eio_socket", "websocket")

    def __init__(self, eio_socket: Any, websocket: TrackedWebSocket) -> None:
        self.eio_socket, self.websocket = eio_socket, websocket

    def write(self, frame: SharedFrame) -> bool:
        """Write now if that keeps order with Engine.IO's queue; False to queue instead."""
        sock, websocket = self.eio_socket, self.websocket
        # _unfinished_tasks: packets queued, or taken by the writer and not yet done with
        # (python-engineio calls task_done as it takes them, then sends without yielding;
        # ``sending`` covers a send that waits). Closed sockets: the writer refuses them.
        if websocket.sending or sock.queue._unfinished_tasks or sock.upgrading or sock.closing:
            return False
        return websocket.writer.write(frame)


def engineio_direct(eio_socket: Any) -> EngineIODirect | None:
    """The direct path to ``eio_socket`` once it is on WebSocket, if the server allows one."""
    websocket = _websockets.get(eio_socket)
    if websocket is None or websocket.writer is None or not eio_socket.upgraded:
        return None
    return EngineIODirect(eio_socket, websocket)


# Headers WSGI names without the HTTP_ prefix (python-engineio's translate_request does too).
_UNPREFIXED = {"CONTENT-TYPE": "CONTENT_TYPE", "CONTENT-LENGTH": "CONTENT_LENGTH"}


async def translate_request(scope: dict, receive: Any, send: Any) -> dict:
    """python-engineio's ASGI ``translate_request``, without what a WebSocket handshake
    does not use; HTTP requests (long-polling) go to python-engineio's own.

    Why: for every request python-engineio defines a class (the reader of a request body,
    which a WebSocket handshake has none of) and fills a dozen WSGI keys with constants
    that nothing reads (realtime.socketio.filter drops them from the kept environ): about
    3% of a socket.io connect's CPU on uvicorn (cProfile). The ``HTTP_*`` keys, the query
    string and the ASGI callables are what python-engineio and the connect handlers read.
    """
    if scope["type"] != "websocket":
        return await engineio_asgi.translate_request(scope, receive, send)
    event = await receive()
    if event["type"] != "websocket.connect":
        return {}
    try:
        query_string = (scope.get("query_string") or b"").decode("utf-8")
    except UnicodeDecodeError:
        query_string = ""
    path = scope["path"]
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query_string,
        "RAW_URI": f"{path}?{query_string}" if query_string else path,
        "REMOTE_ADDR": "127.0.0.1",  # as python-engineio's driver says (the scope has the peer)
        "asgi.receive": receive,
        "asgi.send": send,
        "asgi.scope": scope,
    }
    for name, value in scope["headers"]:
        try:
            upper, text = name.upper().decode("utf-8"), value.decode("utf-8")
        except UnicodeDecodeError:
            continue  # as python-engineio: a header that does not decode is left out
        if upper in _UNPREFIXED:  # as python-engineio: named as in WSGI, the last one kept
            environ[_UNPREFIXED[upper]] = text
            continue
        key = "HTTP_" + upper.replace("-", "_")
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    environ["wsgi.url_scheme"] = environ.get("HTTP_X_FORWARDED_PROTO", "http")
    return environ


class TrackingEngineIOServer(engineio.AsyncServer):
    """python-engineio's AsyncServer with TrackedWebSocket as its ASGI WebSocket driver,
    a leaner request translation for WebSocket handshakes, LeanQueue as its sockets' queues
    and one ping timer per event loop (see pings)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._async = {
            **self._async,
            "websocket": TrackedWebSocket,
            "translate_request": translate_request,
        }

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        """Each socket's send queue: a LeanQueue (asyncio.Queue's behaviour, a tenth of its
        size) unless a bounded one is asked for."""
        if args or kwargs:
            return super().create_queue(*args, **kwargs)
        return LeanQueue()

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        """A socket's wait for its next ping joins the shared schedule instead of a task."""
        sock = pings.pinged_socket(target)
        if sock is None or args or kwargs:
            return super().start_background_task(target, *args, **kwargs)
        pings.schedule(sock)
        return None
