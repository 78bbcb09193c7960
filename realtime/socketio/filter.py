"""Malformed Engine.IO / socket.io input stops here, as a refusal instead of a logged traceback.

python-engineio and python-socketio survive bad packets, but they log each one as an
exception (with a traceback) and, for a bad long-polling POST, close the session and wait
for a GET that may never come. Found by tests/test_fuzz.py; this module:

- ``EngineIOFilter`` (ASGI, in front of ``/socket.io/``): answers a POST whose Engine.IO
  payload does not parse with 400 (a WebSocket that sends an empty or unknown Engine.IO
  packet is closed with 1003 by the driver, on its one read of each frame: see
  realtime.socketio.websocket);
- ``TolerantServer``: drops (and logs at INFO) a socket.io packet that does not decode.
"""

import base64
import logging
import sys
from typing import Any

import socketio

from .websocket import PACKET_TYPES, TrackingEngineIOServer

logger = logging.getLogger(__name__)

# On polling, "b" (base64 binary) besides the Engine.IO v4 packet types a client may send.
_POLLING_TYPES = PACKET_TYPES | {"b"}
SEPARATOR = "\x1e"


def valid_payload(body: bytes) -> bool:
    """True if a long-polling POST body is a well-formed Engine.IO v4 payload."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    packets = text.split(SEPARATOR)
    return all(packet and packet[0] in _POLLING_TYPES and _decodes(packet) for packet in packets)


def _decodes(packet: str) -> bool:
    # A "b" packet is base64, which python-engineio decodes strictly as to padding and
    # alphabet (ASCII only), raising (logged with a traceback) on anything else.
    if packet[0] != "b":
        return True
    try:
        base64.b64decode(packet[1:])
    except ValueError:  # binascii.Error is one
        return False
    return True


class EngineIOFilter:
    """ASGI middleware for the socket.io path; everything else passes untouched."""

    def __init__(self, app: Any, path: str = "/socket.io/", max_bytes: int = 1_000_000) -> None:
        self.app, self.path, self.max_bytes = app, path, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Filter socket.io POST bodies; everything else passes untouched."""
        if (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and scope.get("path", "").startswith(self.path)
        ):
            await self._post(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _post(self, scope: dict, receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                break  # Engine.IO refuses it by size (400); let it see that much
        if len(body) <= self.max_bytes and not valid_payload(body):
            logger.info("Refused a malformed Engine.IO POST payload (%d bytes)", len(body))
            await _answer(send, 400, b"Malformed Engine.IO payload")
            return
        replayed = {"type": "http.request", "body": body, "more_body": False}

        async def replay() -> dict:
            nonlocal replayed
            if replayed is None:
                return await receive()
            message, replayed = replayed, None
            return message

        await self.app(scope, replay, send)


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# Spent once the handshake is done: the request's (empty, already read) body, an instance of
# a class python-engineio makes per request (2.8 KiB), and the WebSocket handshake's headers;
# and the WSGI boilerplate python-engineio's ASGI driver fills with the same constants for
# every request, which no connect handler reads (12 keys: 0.5 KiB of dict per connection).
_HANDSHAKE_ONLY = frozenset(
    {
        "wsgi.input",
        "HTTP_CONNECTION",
        "HTTP_UPGRADE",
        "HTTP_SEC_WEBSOCKET_KEY",
        "HTTP_SEC_WEBSOCKET_VERSION",
        "HTTP_SEC_WEBSOCKET_EXTENSIONS",
        "wsgi.errors",
        "wsgi.version",
        "wsgi.async",
        "wsgi.multithread",
        "wsgi.multiprocess",
        "wsgi.run_once",
        "SERVER_SOFTWARE",
        "SERVER_PROTOCOL",
        "SERVER_NAME",
        "SERVER_PORT",
        "SCRIPT_NAME",
        "REMOTE_PORT",
    }
)


def kept_environ(environ: dict) -> dict:
    """The environ a connection keeps for its life (python-socketio hands it to every later
    namespace connection): without ``_HANDSHAKE_ONLY``, its keys shared between connections
    (python-engineio builds each ``HTTP_*`` key afresh per request)."""
    return {sys.intern(key): value for key, value in environ.items() if key not in _HANDSHAKE_ONLY}


class TolerantServer(socketio.AsyncServer):
    """An AsyncServer that drops socket.io packets it cannot decode instead of logging a
    traceback for each (python-socketio raises from its decoder), on an Engine.IO server
    whose WebSocket connections broadcasts can reach directly (see .websocket)."""

    def _engineio_server_class(self) -> type:
        return TrackingEngineIOServer

    async def _handle_eio_connect(self, eio_sid: str, environ: dict) -> None:
        # python-socketio keeps each connection's handshake environ for its lifetime: keep
        # a copy without what only the handshake used (see kept_environ).
        await super()._handle_eio_connect(eio_sid, kept_environ(environ))

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, IndexError, KeyError, RecursionError, AttributeError):
            logger.info("Dropped a malformed socket.io packet from %s", eio_sid)
