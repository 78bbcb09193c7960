"""Assemble the realtime transports around a Django HTTP application."""

import functools
import logging
from typing import Any

from channels.routing import ProtocolTypeRouter, URLRouter

from . import collector, conf, logfilters
from .compression import decline_compression
from .origins import is_allowed
from .outbox import guard_send
from .parking import PARKED_LOOP, LoopSlot
from .routing import websocket_urlpatterns
from .slimming import following_receive, slim_connection
from .socketio.server import socketio_application
from .wire import DIRECT_WRITER, direct_writer, server_transport

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


class SendGuard:
    """Every WebSocket (both transports): bounded server-side buffering and frame size.

    Compression offered by the server is declined unless ``WEBSOCKET_COMPRESSION`` is on
    (realtime.compression: a compressed frame cannot be shared between connections), and
    uvicorn's per-connection log lines are not even made unless ``LOG_CONNECTIONS`` is on.

    The ASGI ``send`` waits while the server holds more than ``SEND_BUFFER_BYTES`` unsent for
    the client and aborts the connection when stuck (see realtime.outbox). Frames larger than
    16 x ``MAX_MESSAGE_BYTES`` are refused by daphne itself (close 1009) instead of being
    buffered whole; uvicorn does the same above ``--ws-max-size`` (16 MiB by default).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Wrap ``send`` of WebSocket connections; pass everything else through."""
        if scope["type"] == "websocket":
            _limit_frame_size(send)
            if not conf.get("WEBSOCKET_COMPRESSION"):
                decline_compression(send)
            if not conf.get("LOG_CONNECTIONS"):
                logfilters.quiet_protocol_logs(send)
            # The raw send stays reachable for the broadcast fast path (realtime.wire), and
            # the connection's read loop can run up here (realtime.parking).
            slot = LoopSlot()
            followed = following_receive(receive, send)  # daphne's queue can be swapped
            # Added in place, not to a copy (uvicorn's proxy-headers middleware does the
            # same): a copy is a second 0.5 KiB dict per connection for its whole life, and
            # the server reads only its own keys of the scope. The factory is only in the
            # scope (no local of this long-lived frame), so taking it out there frees it.
            # Positional: a keyword would give every connection's partial a dict.
            scope[DIRECT_WRITER] = functools.partial(_accepted, send, followed is not receive)
            scope[PARKED_LOOP] = slot
            receive = followed
            send = _allow_standard_close_codes(guard_send(send), send)
            try:
                await self.app(scope, receive, send)
            finally:
                parked = slot.take()
                if parked is not None:
                    await parked
                # The server's scope would otherwise hold its protocol in a cycle (through
                # the raw send in the factory), left for the cyclic collector.
                scope.pop(DIRECT_WRITER, None)
                scope.pop(PARKED_LOOP, None)
            return
        await self.app(scope, receive, send)


def _accepted(send: Any, receive_follows: bool, *, own_heartbeat: bool = False) -> Any:
    # Called by both transports right after their accept (see realtime.wire.DIRECT_WRITER).
    slim_connection(send, own_heartbeat=own_heartbeat, receive_follows=receive_follows)
    return direct_writer(send)


def _limit_frame_size(send: Any) -> None:
    # daphne: send is partial(server.handle_reply, protocol); autobahn reads these per
    # protocol instance when frames arrive, and fails the connection with 1009 above them.
    protocol = getattr(send, "args", (None,))[0]
    if server_transport(send) is not None and hasattr(protocol, "maxMessagePayloadSize"):
        limit = 16 * conf.get("MAX_MESSAGE_BYTES")
        protocol.maxMessagePayloadSize = protocol.maxFramePayloadSize = limit


def _allow_standard_close_codes(send: Any, raw_send: Any) -> Any:
    # autobahn (daphne) lets applications close only with 1000 or 3000-4999 and raises on
    # 1012 "service restart", the code a graceful shutdown needs; send that frame directly.
    protocol = getattr(raw_send, "args", (None,))[0]
    if not hasattr(protocol, "sendCloseFrame"):
        return send

    async def guarded(message: dict) -> None:
        code = message.get("code")
        if message["type"] == "websocket.close" and code and 1000 < code < 3000:
            if getattr(protocol, "state", None) == protocol.STATE_OPEN:
                reason = (message.get("reason") or "").encode("utf-8")[:120]
                protocol.sendCloseFrame(code=code, reasonUtf8=reason, isReply=False)
            return
        await send(message)

    return guarded


def realtime_application(http_app: Any) -> Any:
    """``/socket.io/`` to socket.io; other HTTP to ``http_app``; WebSocket to the routes."""
    collector.tune_for_connections()
    logfilters.quiet_connection_logs()
    return SendGuard(
        socketio_application(
            ProtocolTypeRouter(
                {"http": http_app, "websocket": OriginGuard(URLRouter(websocket_urlpatterns))}
            )
        )
    )
