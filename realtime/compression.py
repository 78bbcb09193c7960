"""WebSocket compression is off by default: the application declines the server's offer.

Why: a broadcast's frame is built once and written as the same bytes to every connection
(realtime.wire). A connection that negotiated permessage-deflate needs its own compressed
copy of every message instead, built in the server's writer. Measured with uvicorn's default
settings (docs/benchmarks.md, 2026-11-25 05:06 UTC, 1,000 socket.io clients): 18,338
deliveries per second and a p99 of 339 ms at 20 updates/s, against 262,300 and 19.5 ms with
the server's compression off. uvicorn offers deflate unless started with
``--ws-per-message-deflate false``; forgetting the flag should not cost that.

The ASGI spec gives an application no say in extensions, so this reaches into the server's
handshake state before the application accepts. ``REALTIME["WEBSOCKET_COMPRESSION"] = True``
leaves the server's offer alone (clients on slow links then get fewer bytes for more CPU).
daphne offers no compression (autobahn's default), so there is nothing to decline there.
"""

import functools
from typing import Any

from .wire import server_protocol

_EXTENSIONS_HEADER = "Sec-WebSocket-Extensions"


def decline_compression(send: Any) -> bool:
    """Make the server behind a raw ASGI ``send`` accept its WebSocket without extensions.

    Call it before the application's ``websocket.accept``. True for the servers it
    handles (uvicorn's three WebSocket protocols); False for others: daphne's autobahn
    protocol offers no compression, and a server we do not know is left as it is.
    """
    protocol = server_protocol(send)
    conn = getattr(protocol, "conn", None)
    response = getattr(protocol, "response", None)
    if hasattr(conn, "available_extensions") and hasattr(response, "headers"):
        return _decline_sansio(conn, response)
    offered = getattr(protocol, "available_extensions", None)
    if isinstance(offered, list):
        # uvicorn's "websockets" (legacy) protocol negotiates after the application's
        # accept, from this very list (its own per connection): empty, nothing is agreed.
        offered.clear()
        return True
    if type(protocol).__module__ == _UVICORN_WSPROTO:
        # uvicorn's wsproto protocol decides at the accept, from the server's config, which
        # every connection shares: this connection reads a view of it with deflate off.
        if protocol.config.ws_per_message_deflate:
            protocol.config = _without_deflate(protocol.config)
        return True
    return False


_UVICORN_WSPROTO = "uvicorn.protocols.websockets.wsproto_impl"


class _ConfigWithoutDeflate:
    """A server's uvicorn Config as its connections read it, with permessage-deflate off."""

    __slots__ = ("_config",)
    ws_per_message_deflate = False

    def __init__(self, config: Any) -> None:
        self._config = config

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, name)


@functools.lru_cache(maxsize=8)  # one per server config: every connection shares it
def _without_deflate(config: Any) -> _ConfigWithoutDeflate:
    return _ConfigWithoutDeflate(config)


def _decline_sansio(conn: Any, response: Any) -> bool:
    # uvicorn's default (websockets sans-I/O): the handshake response was negotiated when
    # the request arrived, before the application ran, and is sent at its accept. Its
    # parser and serializer read ``conn.extensions`` per frame, so emptying it (and the
    # header that would announce it) makes the connection plain from the first frame.
    conn.extensions = []
    if _EXTENSIONS_HEADER in response.headers:
        del response.headers[_EXTENSIONS_HEADER]
    return True
