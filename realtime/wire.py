"""A broadcast's WebSocket frame, built once and written straight to every idle socket.

Why: the ASGI way to send costs, per recipient, a ``websocket.send`` dict, a UTF-8 encode,
the server's framing and (behind a queue) a writer-task wake-up. Profiled at 1,000 clients
that per-recipient work was most of the server's CPU. A broadcast's frame is the same bytes
for every uncompressed connection, so ``SharedFrame`` builds them once and ``DirectWriter``
hands them to the socket's transport: one ``transport.write`` per recipient.

Only when it is safe: the server is one we know (uvicorn's default WebSocket protocol,
daphne's autobahn), the connection negotiated no extension (a compressed frame cannot be
shared), it is open and its buffer is below ``SEND_BUFFER_BYTES``. Otherwise the frame
goes the ASGI way through the connection's ``Outbox``, which also keeps order: the direct
path is taken only while that outbox is empty and not sending (see ``Outbox.push``).
"""

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import conf

# Scope key under which SendGuard leaves a factory: call it once, after accept, for the
# connection's DirectWriter (or None); it also lets the server keep less (realtime.slimming).
DIRECT_WRITER = "realtime.direct_writer"


class SharedFrame:
    """One text message: its text (for ASGI sends) and its wire bytes (built on first use)."""

    __slots__ = ("_wire", "packet", "text")

    def __init__(self, text: str, packet: Any = None) -> None:
        self.text = text
        self.packet = packet  # the Engine.IO packet this text encodes, for its own queue
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        """The unmasked, unfragmented WebSocket text frame (RFC 6455 section 5.2)."""
        if self._wire is None:
            payload = self.text.encode()
            self._wire = frame_header(len(payload)) + payload
        return self._wire


def frame_header(length: int) -> bytes:
    """FIN + text opcode, then the payload length in the shortest form."""
    if length <= 125:
        return bytes((0x81, length))
    if length <= 0xFFFF:
        return struct.pack("!BBH", 0x81, 126, length)
    return struct.pack("!BBQ", 0x81, 127, length)


# Writers holding frames while coalesced_writes() is active; None when it is not.
_gathering: list["DirectWriter"] | None = None


@contextmanager
def coalesced_writes() -> Iterator[None]:
    """Within: frames for one connection are held and written together (one writev) on exit.

    Nothing can come between: the block does not yield to the event loop, so no other
    write to these connections can happen before the held frames are written.
    """
    global _gathering
    outer, _gathering = _gathering, []
    try:
        yield
    finally:
        writers, _gathering = _gathering, outer
        for writer in writers:
            writer.flush()


class DirectWriter:
    """Writes shared frames to one server connection without going through ASGI."""

    __slots__ = ("_held", "_limit", "transport")

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self._limit = conf.get("SEND_BUFFER_BYTES")
        self._held: list[bytes] | None = None

    def write(self, frame: SharedFrame) -> bool:
        """Write ``frame`` now if the connection takes it without waiting; False otherwise."""
        raise NotImplementedError

    def _hold(self, data: bytes) -> None:
        # Inside coalesced_writes(): written by flush() when the block ends.
        if self._held is None:
            self._held = [data]
            _gathering.append(self)  # type: ignore[union-attr]
        else:
            self._held.append(data)

    def flush(self) -> None:
        """Write the frames held for this connection, in one go."""
        held, self._held = self._held, None
        if held and not is_closed(self.transport):
            self._write_all(held)

    def _write_all(self, chunks: list[bytes]) -> bool:
        raise NotImplementedError


class UvicornWriter(DirectWriter):
    """uvicorn's websockets "sans-I/O" protocol, its default WebSocket implementation."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: Any) -> None:
        super().__init__(protocol.transport)
        self._protocol = protocol

    def write(self, frame: SharedFrame) -> bool:
        """Write ``frame`` now if the connection takes it without waiting; False otherwise."""
        transport = self.transport
        # Per recipient per broadcast, so as few objects touched as will do: uvicorn closes
        # the transport as soon as a close frame arrives (and on keepalive timeout and parse
        # errors) and sets close_sent when it sends one, so these two cover "open". Its own
        # pause (``writable``) is left to our bound: SEND_BUFFER_BYTES, as for every send.
        if (
            self._protocol.close_sent
            or transport.is_closing()
            or transport.get_write_buffer_size() > self._limit
        ):
            return False
        if _gathering is None:
            transport.write(frame.wire)
        else:
            self._hold(frame.wire)
        return True

    def _write_all(self, chunks: list[bytes]) -> bool:
        self.transport.writelines(chunks)  # uvloop: one writev
        return True


class DaphneWriter(DirectWriter):
    """daphne's WebSocketProtocol: an autobahn protocol on a Twisted TCP transport.

    Why not ``protocol.sendData``: Twisted's ``transport.write`` buffers, registers the socket
    with the event loop and sends on the next turn, then unregisters it: two epoll changes
    per frame, which with autobahn's per-frame bookkeeping took most of daphne's fan-out time
    (py-spy, bench/). With nothing buffered, the frame goes to the socket now; only what the
    kernel does not take is handed to Twisted, which keeps it in order behind.
    """

    __slots__ = ("_protocol", "_socket")

    def __init__(self, protocol: Any) -> None:
        super().__init__(protocol.transport)
        self._protocol = protocol
        plain_tcp = not getattr(self.transport, "TLS", True)  # TLS: Twisted must encrypt
        self._socket = getattr(self.transport, "socket", None) if plain_tcp else None

    def write(self, frame: SharedFrame) -> bool:
        """Write ``frame`` now if the connection takes it without waiting; False otherwise."""
        protocol, transport = self._protocol, self.transport
        if protocol.state != protocol.STATE_OPEN or is_closed(transport):
            return False
        if buffered_bytes(transport) > self._limit:
            return False
        if _gathering is None:
            return self._write_all([frame.wire])
        self._hold(frame.wire)
        return True

    def _write_all(self, chunks: list[bytes]) -> bool:
        transport = self.transport
        if buffered_bytes(transport) == 0 and self._socket is not None:
            try:
                sent = self._socket.sendmsg(chunks)  # one writev, no copy
            except BlockingIOError:
                sent = 0
            except OSError:
                return False  # the connection broke; Twisted notices and closes it
            chunks = _unsent(chunks, sent)
            if not chunks:
                return True
        transport.writeSequence(chunks)  # Twisted keeps it in order behind what it holds
        return True


def _unsent(chunks: list[bytes], sent: int) -> list[bytes]:
    """What of ``chunks`` is left after the first ``sent`` bytes went out."""
    for index, chunk in enumerate(chunks):
        if sent < len(chunk):
            return [chunk[sent:], *chunks[index + 1 :]]
        sent -= len(chunk)
    return []


def scope_direct_writer(scope: dict, *, own_heartbeat: bool = False) -> DirectWriter | None:
    """The DirectWriter SendGuard left for this connection, if any; call after accept.

    ``own_heartbeat``: the application pings this connection itself (Engine.IO), so the
    server's WebSocket keepalive is redundant (see realtime.slimming). Absent outside our ASGI
    stack (e.g. Channels' test communicators). The factory is taken out of the scope: kept
    there, it (and its arguments) would stay for the connection's life (0.1 KiB); a plain
    consumer's scope is a copy made by Channels' router, so there the server's keeps it.
    """
    factory = scope.pop(DIRECT_WRITER, None)
    return factory(own_heartbeat=own_heartbeat) if factory is not None else None


def direct_writer(send: Any) -> DirectWriter | None:
    """A DirectWriter for the connection behind a server's raw ASGI WebSocket ``send``, or None.

    None for servers we do not know and for connections that negotiated an extension
    (permessage-deflate). Call it after ``websocket.accept`` (extensions are settled then).
    """
    owner = server_protocol(send)
    if owner is None or getattr(owner, "transport", None) is None:
        return None
    if hasattr(owner, "sendData") and hasattr(owner, "STATE_OPEN"):
        return None if getattr(owner, "_perMessageCompress", 1) else DaphneWriter(owner)
    conn = getattr(owner, "conn", None)
    if hasattr(conn, "state") and hasattr(owner, "close_sent"):
        return None if getattr(conn, "extensions", 1) else UvicornWriter(owner)
    return None


# -- the server's connection behind an ASGI send ---------------------------------------------


def server_protocol(send: Any) -> Any:
    """The protocol object behind a raw ASGI ``send`` of daphne or uvicorn, or None."""
    owner = getattr(send, "__self__", None)  # uvicorn: a bound method of its protocol
    if owner is None and getattr(send, "args", None):  # daphne: partial(handle_reply, protocol)
        owner = send.args[0]
    return owner


def server_transport(send: Any) -> Any:
    """The TCP transport behind a raw ASGI ``send`` of daphne or uvicorn, or None if unknown."""
    return getattr(server_protocol(send), "transport", None)


def buffered_bytes(transport: Any) -> int:
    """Bytes written to ``transport`` but not yet taken by the kernel."""
    if hasattr(transport, "get_write_buffer_size"):  # asyncio transports (uvicorn)
        return int(transport.get_write_buffer_size())
    data = getattr(transport, "dataBuffer", b"")  # Twisted FileDescriptor (daphne)
    return len(data) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)


def is_closed(transport: Any) -> bool:
    """True once the transport is closing or closed."""
    if hasattr(transport, "is_closing"):
        return bool(transport.is_closing())
    return bool(getattr(transport, "disconnected", False) or getattr(transport, "disconnecting", 0))


def abort(transport: Any) -> None:
    """Drop the TCP connection now, discarding what is buffered for it."""
    if hasattr(transport, "abortConnection"):
        transport.abortConnection()
    elif hasattr(transport, "abort"):
        transport.abort()
