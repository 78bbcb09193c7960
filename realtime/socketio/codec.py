"""Encode a broadcast once into an Engine.IO packet that every socket of a namespace can share."""

import logging
from typing import Any

from engineio import packet as eio_packet

from ..protocol import dumps, event_json
from ..wire import SharedFrame

logger = logging.getLogger(__name__)


class SocketIOEventCodec:
    """``42/<namespace>,["<event>",<payload>]`` for one namespace and event name.

    Why hand-encode: python-socketio encodes each emit per recipient; a shared Engine.IO
    packet (it caches its own encoding) is encoded once per broadcast for all recipients,
    over long-polling, and its WebSocket frame once for all upgraded sockets (realtime.wire).
    """

    def __init__(self, namespace: str, event: str) -> None:
        self.prefix = f"2{namespace},[{dumps(event)},"

    def encode(self, message: dict[str, Any]) -> SharedFrame:
        """The Engine.IO MESSAGE packet for a broadcast (see protocol.broadcast_message)."""
        # Extra arguments, which the front end ignores (it reads the first): the instance's
        # seq, so a client can tell a gap, then the offset, last and a string, because
        # socket.io-client keeps only such a last argument for recovery.
        seq, offset = message.get("seq"), message.get("offset")
        tail = "" if seq is None else f",{seq}"
        tail = f"{tail}]" if offset is None else f"{tail},{dumps(offset)}]"
        packet = eio_packet.Packet(eio_packet.MESSAGE, self.prefix + event_json(message) + tail)
        # encode() fills the packet's own cache: shared by every socket's Engine.IO queue.
        return SharedFrame(packet.encode(), packet)
