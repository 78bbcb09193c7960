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

from typing import Any

from .wire import server_protocol

_EXTENSIONS_HEADER = "Sec-WebSocket-Extensions"


def decline_compression(send: Any) -> None:
    """Make the server behind a raw ASGI ``send`` accept its WebSockets without extensions.

    Call it before the application's ``websocket.accept``. Handles uvicorn's three
    WebSocket protocols; daphne's autobahn protocol offers no compression, and a server we
    do not know is left as it is.
    """
    protocol = server_protocol(send)
    config = getattr(protocol, "config", None)
    if not hasattr(config, "ws_per_message_deflate"):
        return
    # The server's config, shared by its connections: from now on uvicorn offers nothing,
    # as with --ws-per-message-deflate false, and later handshakes skip the negotiation
    # (it builds zlib streams, about 50 KB, for every client that asks). The wsproto
    # protocol reads it at the accept, so that covers this connection there too.
    config.ws_per_message_deflate = False
    conn = getattr(protocol, "conn", None)
    response = getattr(protocol, "response", None)
    if hasattr(conn, "available_extensions") and hasattr(response, "headers"):
        _decline_sansio(conn, response)
    elif isinstance(getattr(protocol, "available_extensions", None), list):
        # uvicorn's "websockets" (legacy) protocol negotiates after the application's
        # accept, from this very list (its own per connection): empty, nothing is agreed.
        protocol.available_extensions.clear()


def _decline_sansio(conn: Any, response: Any) -> None:
    # uvicorn's default (websockets sans-I/O): this connection's handshake response was
    # negotiated when its request arrived, before the application ran, and is sent at its
    # accept. Its parser and serializer read ``conn.extensions`` per frame, so emptying it
    # (and the header that would announce it) makes the connection plain from the start.
    conn.extensions = []
    if _EXTENSIONS_HEADER in response.headers:
        del response.headers[_EXTENSIONS_HEADER]
