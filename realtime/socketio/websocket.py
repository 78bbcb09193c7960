"""Engine.IO's ASGI WebSocket driver, kept track of so broadcasts can skip its queue.

Why: python-engineio sends each packet through the socket's queue and one writer task per
socket (a wake-up and an ASGI send per recipient per broadcast). For sockets on WebSocket,
a broadcast's frame is the same bytes for all (realtime.wire). This driver remembers, per
Engine.IO socket, its raw ASGI connection and how many of Engine.IO's own sends are under
way, so ``engineio_direct`` can write a shared frame straight to the socket whenever that
cannot overtake a packet Engine.IO queued earlier (a CONNECT acknowledgement, a ping, a
reply). python-engineio keeps the protocol: handshake, polling, upgrade, pings.
"""

import weakref
from typing import Any

import engineio
from engineio.async_drivers import asgi as engineio_asgi

from ..wire import DirectWriter, SharedFrame, scope_direct_writer

_websockets: "weakref.WeakKeyDictionary[Any, TrackedWebSocket]" = weakref.WeakKeyDictionary()


class TrackedWebSocket(engineio_asgi.WebSocket):
    """The ASGI driver's WebSocket, registered under its Engine.IO socket."""

    def __init__(self, handler: Any, server: Any) -> None:
        super().__init__(handler, server)
        self.sending = 0
        self.writer: DirectWriter | None = None
        # The handler is the Engine.IO socket's bound _websocket_handler.
        self.eio_socket = getattr(handler, "__self__", None)

    async def __call__(self, environ: dict) -> Any:
        """Accept, find the direct writer, then run Engine.IO's handler."""
        if self.eio_socket is not None:
            _websockets[self.eio_socket] = self
        try:
            self.asgi_receive, self.asgi_send = environ["asgi.receive"], environ["asgi.send"]
            await self.asgi_send({"type": "websocket.accept"})
            self.writer = scope_direct_writer(environ.get("asgi.scope") or {})
            await self.handler(self)
        finally:
            # Explicitly: this value refers to its own weak key (eio_socket), so the entry
            # would otherwise keep both alive for ever (a closed connection's ~80 objects).
            if self.eio_socket is not None:
                _websockets.pop(self.eio_socket, None)
        return ""

    async def send(self, message: Any) -> None:
        """Engine.IO's own send, counted so a direct write never overtakes it."""
        self.sending += 1
        try:
            await super().send(message)
        finally:
            self.sending -= 1


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


class TrackingEngineIOServer(engineio.AsyncServer):
    """python-engineio's AsyncServer, using TrackedWebSocket for its ASGI WebSocket driver."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._async = {**self._async, "websocket": TrackedWebSocket}
