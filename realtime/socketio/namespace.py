"""One socket.io namespace per route: a thin transport that hands every event to the route."""

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qs

import socketio

from .. import protocol, recovery
from ..exceptions import InvalidMessage, RealtimeError
from ..hub import get_hub
from ..routes import Route
from ..session import Session
from ..wire import SharedFrame
from . import csr, guard
from .codec import SocketIOEventCodec
from .websocket import engineio_direct

logger = logging.getLogger(__name__)


class SocketTransport:
    """Delivery to one Engine.IO socket: shared packets go into its send queue or, once it is
    on WebSocket and nothing is pending, their shared frame straight to its connection.

    Packets pushed before the socket.io CONNECT acknowledgement is queued are held, so a
    client never sees an event of a namespace it has not been told it joined.
    """

    # Per connection, so slots; a weak reference for realtime.shutdown's registry.
    __slots__ = ("__weakref__", "_direct_checked", "_held", "codec", "eio_socket", "outbox")

    def __init__(self, eio_socket: Any, codec: SocketIOEventCodec) -> None:
        self.eio_socket = eio_socket
        self.codec = codec
        self._held: list[Any] | None = []
        self.outbox = guard.socket_outbox(eio_socket)  # bounded; newer states replace older
        self._direct_checked = False

    def push(self, frame: SharedFrame, message: dict[str, Any] | None = None) -> None:
        """Queue ``frame`` for the socket (our outbox feeds Engine.IO's writer task)."""
        if self._held is not None:
            self._held.append((frame, message))
            return
        if not self._direct_checked and self.eio_socket.upgraded:
            self._direct_checked = True  # on WebSocket now: try the direct path once
            self.outbox.direct = engineio_direct(self.eio_socket)
        # A closed socket: the direct path refuses it, and so does the queue's sender.
        self.outbox.push(frame, message)

    def release(self) -> None:
        """Start sending, beginning with what was held."""
        held, self._held = self._held or [], None
        self.outbox.start()
        for frame, message in held:
            self.push(frame, message)

    async def close_for_shutdown(self) -> None:
        """Graceful shutdown: the client reconnects (see guard.close_for_shutdown)."""
        await guard.close_for_shutdown(self)


class RouteNamespace(socketio.AsyncNamespace):
    """``/<route>``: the client emits and receives one event named after the route."""

    def __init__(self, route: Route) -> None:
        super().__init__(f"/{route.name}")
        self.route = route
        self.codec = SocketIOEventCodec(self.namespace, route.name)
        self.sessions: dict[str, Session] = {}
        self.recovery_ids: dict[str, tuple[str, str]] = {}

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        """Subscribe as the query string or ``auth`` says (key, ``role=agent`` on uia)."""
        options = _connect_options(environ, auth)
        agent = options.get("role") == "agent" and self.route.name == "uia"
        key = options.get(self.route.key_field) or None
        admitted = await guard.admit(self.route.name, environ, options, key=key, agent=agent)
        eio_sid = self.server.manager.eio_sid_from_sid(sid, self.namespace)
        transport = SocketTransport(self.server.eio.sockets[eio_sid], self.codec)
        session = self.sessions[sid] = Session(self.route, transport, get_hub(), is_agent=agent)
        guard.attach(session, admitted)
        try:
            pid, start = await self._open(session, key, options, auth)
        except Exception as exc:
            self.sessions.pop(sid, None)
            guard.release(session)
            await session.close()
            logger.warning("Refused socket.io connection: %r", exc)
            raise socketio.exceptions.ConnectionRefusedError(
                "Realtime service unavailable"
            ) from exc
        self.recovery_ids[sid] = (pid, start)
        csr.announce(self.namespace, sid, pid)
        # python-socketio queues the CONNECT acknowledgement right after this returns,
        # before the loop runs callbacks: releasing then keeps events after it.
        asyncio.get_running_loop().call_soon(transport.release)

    async def _open(
        self, session: Session, key: str | None, options: dict[str, str], auth: Any
    ) -> tuple[str, str]:
        """Recover the client's previous session, or subscribe afresh; returns (pid, start)."""
        # Taken before subscribing: everything after it is either live or replayable.
        start = await recovery.backend().last_offset(self.route.name)
        claims = auth if isinstance(auth, dict) else {}
        pid = claims.get("pid")
        if not (isinstance(pid, str) and await csr.recover(session, pid, claims.get("offset"))):
            pid = csr.new_pid()
            await session.start(key, options)
        session.on_change = csr.Saver(pid, start)
        csr.save_soon(session, pid, start)
        return pid, start

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """Leave every group."""
        session = self.sessions.pop(sid, None)
        pid, start = self.recovery_ids.pop(sid, (None, ""))
        if session is not None and pid is not None:
            await csr.save(session, pid, start)  # the recovery window starts now
        if session is not None:
            guard.release(session)
            await session.close()
            await session.transport.outbox.close()

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Route every client event through the route's rules; never raise into python-socketio."""
        if isinstance(event, str) and event in {"connect", "disconnect"}:  # fuzz: [..] events
            return await super().trigger_event(event, *args)
        session = self.sessions.get(args[0]) if args else None
        if session is None:
            return None
        if not await guard.allow_message(self.server, self.namespace, args[0], session):
            return None
        try:
            await session.receive(_event_payload(self.route, event, args[1:]))
        except RealtimeError as error:
            session.reply_error(error)
        return None


def _event_payload(route: Route, event: str, data: tuple[Any, ...]) -> dict[str, Any]:
    if event != route.name:
        raise InvalidMessage(
            f"Unknown event {event!r} on /{route.name}; emit {route.name!r}.", code="unknown_event"
        )
    if not data:
        raise InvalidMessage(f"Event {event!r} needs a payload object.", code="not_an_object")
    return protocol.ensure_object(data[0])


def _connect_options(environ: dict, auth: Any) -> dict[str, str]:
    """Query-string options, overridden by string values of the ``auth`` payload."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    options = {name: values[0] for name, values in query.items() if values}
    if isinstance(auth, dict):
        options.update({k: v for k, v in auth.items() if isinstance(v, str)})
    return options
