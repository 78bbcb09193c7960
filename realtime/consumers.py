"""Plain WebSocket transport: JSON text frames over Channels, a thin shell over the routes."""

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import AsyncConsumer, get_handler_name
from channels.exceptions import StopConsumer

from . import admission, conf, shutdown
from .auth import bearer_token
from .codecs import JSON_EVENTS
from .exceptions import Refused
from .hub import get_hub
from .outbox import Outbox
from .routes import get_route
from .session import Session
from .wire import SharedFrame, scope_direct_writer

logger = logging.getLogger(__name__)


class RouteConsumer(AsyncConsumer):
    """One WebSocket connection on one route (``route_name`` set by the URL pattern's kwargs).

    Query string: ``?process_instance_id=ID`` (or ``process_id`` on uia) narrows to one key;
    ``?role=agent`` on uia marks a UI-automation picker agent.
    """

    # No per-connection channel-layer channel: broadcasts arrive through the process hub,
    # which would otherwise cost one Redis subscription per connection.
    channel_layer_alias = None
    codec = JSON_EVENTS

    def __init__(self, route_name: str) -> None:
        self.route_name = route_name  # given per URL pattern by as_asgi(route_name=...)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels 4.2+ hops to a thread (close_old_connections) before every handler; our
        # handlers reach the database only through database_sync_to_async, which does it.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        """Admit (auth, policy, limits), accept, then subscribe as the query string says."""
        route = get_route(self.route_name)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        agent = query.get("role", [""])[0] == "agent" and route.name == "uia"
        key = query.get(route.key_field, [None])[0] or None
        headers = dict(self.scope.get("headers", []))
        try:
            self.admission = await admission.admit(
                route=route.name,
                address=(self.scope.get("client") or [None])[0],
                token=query.get("token", [None])[0] or bearer_token(headers),
                cookie=headers.get(b"cookie", b"").decode("latin-1") or None,
                key=key,
                agent=agent,
            )
        except Refused as refused:
            await self._refuse(refused)
            return
        shutdown.register(self)
        self.outbox = Outbox(self._send_text, conf.get("SEND_QUEUE_SIZE"))
        self.session = Session(route, self, get_hub(), is_agent=agent)
        self.session.user = self.admission.user
        await self.send({"type": "websocket.accept"})
        self.outbox.direct = scope_direct_writer(self.scope)
        self.outbox.start()
        await self.session.start(key, {"last_seq": query.get("last_seq", [None])[0]})

    async def _refuse(self, refused: Refused) -> None:
        # Accept first: a close before accept is an HTTP 403 and carries no code or reason.
        logger.info("Refused WebSocket on %s: %s", self.route_name, refused.code)
        await self.send({"type": "websocket.accept"})
        await self.send(
            {"type": "websocket.close", "code": refused.close_code, "reason": refused.code}
        )

    def push(self, frame: Any, message: dict[str, Any] | None = None) -> None:
        """Queue a frame (called by the hub and the session); newer states replace older."""
        self.outbox.push(frame, message)

    async def _send_text(self, frame: SharedFrame) -> None:
        await self.send({"type": "websocket.send", "text": frame.text})

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        """One client frame: text or binary JSON, within the connection's rate limit."""
        session = getattr(self, "session", None)
        if session is None:  # refused: frames sent before our close are ignored
            return
        try:
            self.admission.limiter.check()
        except Refused as refused:
            session.reply_error(refused)
            if refused.code == "flood":
                await self._close(refused.close_code, refused.code)
            return
        frame = message.get("text")
        if frame is None:
            frame = message.get("bytes") or b""
        with shutdown.busy():
            await session.receive_text(frame)

    async def _close(self, code: int, reason: str, flush: float = 1.0) -> None:
        # What is queued (e.g. the error frame saying why) goes first, briefly.
        await self.outbox.flush(flush)
        await self.send({"type": "websocket.close", "code": code, "reason": reason})

    async def close_for_shutdown(self) -> None:
        """Graceful shutdown: send what is queued, then close 1012 so the client reconnects."""
        await self._close(1012, "server restart", flush=conf.get("SHUTDOWN_TIMEOUT") / 2)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """Leave every group, give back the address slot, and stop."""
        session = getattr(self, "session", None)
        if session is not None:
            shutdown.unregister(self)
            await session.close()
            await self.outbox.close()
        admitted = getattr(self, "admission", None)
        if admitted is not None:
            admitted.release()
        raise StopConsumer()
