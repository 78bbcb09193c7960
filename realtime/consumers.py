"""Plain WebSocket transport: JSON text frames over Channels, a thin shell over the routes."""

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import AsyncConsumer, get_handler_name
from channels.exceptions import StopConsumer

from . import conf
from .codecs import JSON_EVENTS
from .hub import get_hub
from .outbox import Outbox
from .routes import get_route
from .session import Session

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
        """Accept, then subscribe as the query string says."""
        route = get_route(self.route_name)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.outbox = Outbox(self._send_text, conf.get("SEND_QUEUE_SIZE"))
        agent = query.get("role", [""])[0] == "agent" and route.name == "uia"
        self.session = Session(route, self, get_hub(), is_agent=agent)
        await self.send({"type": "websocket.accept"})
        self.outbox.start()
        key = query.get(route.key_field, [None])[0]
        await self.session.open(key or None)

    def push(self, frame: Any) -> None:
        """Queue a frame (called by the hub and the session)."""
        self.outbox.push(frame)

    async def _send_text(self, frame: str) -> None:
        await self.send({"type": "websocket.send", "text": frame})

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        """One client frame: text or binary JSON."""
        frame = message.get("text")
        if frame is None:
            frame = message.get("bytes") or b""
        await self.session.receive_text(frame)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """Leave every group and stop."""
        session = getattr(self, "session", None)
        if session is not None:
            await session.close()
            await self.outbox.close()
        raise StopConsumer()
