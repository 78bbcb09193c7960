"""The python-socketio server and its ASGI app, built from the realtime settings."""

import logging
from typing import Any

import socketio

from .. import conf
from ..origins import is_allowed
from ..routes import ROUTES
from .csr import RecoveryPacket
from .filter import EngineIOFilter, TolerantServer
from .manager import IndexedManager
from .namespace import RouteNamespace

logger = logging.getLogger(__name__)


def _origin_allowed(origin: str | None, environ: dict | None = None) -> bool:
    return is_allowed(origin)


def build_server() -> socketio.AsyncServer:
    """An AsyncServer serving one namespace per route and refusing every other namespace."""
    server = TolerantServer(  # drops undecodable packets instead of logging tracebacks
        async_mode="asgi",
        client_manager=IndexedManager(),  # disconnects in O(own rooms), not O(clients)
        cors_allowed_origins=_origin_allowed,
        namespaces=[f"/{name}" for name in ROUTES],
        max_http_buffer_size=conf.get("MAX_MESSAGE_BYTES"),
        ping_interval=conf.get("PING_INTERVAL"),
        ping_timeout=conf.get("PING_TIMEOUT"),
        serializer=RecoveryPacket,  # adds the recovery pid to CONNECT acknowledgements
    )
    for route in ROUTES.values():
        server.register_namespace(RouteNamespace(route))
    return server


def socketio_application(other_app: Any, server: socketio.AsyncServer | None = None) -> Any:
    """Serve ``/socket.io/`` (polling and WebSocket); everything else goes to ``other_app``."""
    app = socketio.ASGIApp(server or build_server(), other_asgi_app=other_app)
    return EngineIOFilter(app, max_bytes=conf.get("MAX_MESSAGE_BYTES"))
