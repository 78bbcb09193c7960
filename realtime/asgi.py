"""Assemble the realtime transports around a Django HTTP application."""

import logging
from typing import Any

from channels.routing import ProtocolTypeRouter, URLRouter

from .origins import is_allowed
from .routing import websocket_urlpatterns
from .socketio.server import socketio_application

logger = logging.getLogger(__name__)


class OriginGuard:
    """Closes WebSocket handshakes whose Origin the realtime policy refuses (code 4403)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Check the Origin header, then hand over to the wrapped app."""
        origin = dict(scope.get("headers", [])).get(b"origin")
        if is_allowed(origin.decode("latin-1") if origin is not None else None):
            await self.app(scope, receive, send)
            return
        logger.info("Refused WebSocket from origin %r", origin)
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 4403})


def realtime_application(http_app: Any) -> Any:
    """``/socket.io/`` to socket.io; other HTTP to ``http_app``; WebSocket to the routes."""
    return socketio_application(
        ProtocolTypeRouter(
            {"http": http_app, "websocket": OriginGuard(URLRouter(websocket_urlpatterns))}
        )
    )
