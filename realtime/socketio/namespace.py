"""One socket.io namespace per route: a thin transport that hands every event to the route."""

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qs

import socketio

from .. import protocol
from ..exceptions import InvalidMessage, RealtimeError
from ..hub import get_hub
from ..routes import Route
from ..session import Session
from .codec import SocketIOEventCodec

logger = logging.getLogger(__name__)


class SocketTransport:
    """Delivery to one Engine.IO socket: shared packets go straight into its send queue.

    Packets pushed before the socket.io CONNECT acknowledgement is queued are held, so a
    client never sees an event of a namespace it has not been told it joined.
    """

    def __init__(self, eio_socket: Any, codec: SocketIOEventCodec) -> None:
        self.eio_socket = eio_socket
        self.codec = codec
        self._held: list[Any] | None = []

    def push(self, packet: Any) -> None:
        """Queue ``packet`` on the socket (Engine.IO's own writer task sends it)."""
        if self._held is not None:
            self._held.append(packet)
        elif not self.eio_socket.closed:
            self.eio_socket.queue.put_nowait(packet)

    def release(self) -> None:
        """Start sending, beginning with what was held."""
        held, self._held = self._held or [], None
        for packet in held:
            self.push(packet)


class RouteNamespace(socketio.AsyncNamespace):
    """``/<route>``: the client emits and receives one event named after the route."""

    def __init__(self, route: Route) -> None:
        super().__init__(f"/{route.name}")
        self.route = route
        self.codec = SocketIOEventCodec(self.namespace, route.name)
        self.sessions: dict[str, Session] = {}

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        """Subscribe as the query string or ``auth`` says (key, ``role=agent`` on uia)."""
        options = _connect_options(environ, auth)
        eio_sid = self.server.manager.eio_sid_from_sid(sid, self.namespace)
        transport = SocketTransport(self.server.eio.sockets[eio_sid], self.codec)
        agent = options.get("role") == "agent" and self.route.name == "uia"
        session = self.sessions[sid] = Session(self.route, transport, get_hub(), is_agent=agent)
        try:
            await session.open(options.get(self.route.key_field) or None)
        except Exception as exc:
            self.sessions.pop(sid, None)
            await session.close()
            logger.warning("Refused socket.io connection: %r", exc)
            raise socketio.exceptions.ConnectionRefusedError(
                "Realtime service unavailable"
            ) from exc
        # python-socketio queues the CONNECT acknowledgement right after this returns,
        # before the loop runs callbacks: releasing then keeps events after it.
        asyncio.get_running_loop().call_soon(transport.release)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """Leave every group."""
        session = self.sessions.pop(sid, None)
        if session is not None:
            await session.close()

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Route every client event through the route's rules; never raise into python-socketio."""
        if event in {"connect", "disconnect"}:
            return await super().trigger_event(event, *args)
        session = self.sessions.get(args[0]) if args else None
        if session is None:
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
