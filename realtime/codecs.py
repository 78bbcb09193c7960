"""Turn a broadcast into the bytes of one transport, once per broadcast, not once per client."""

import logging
from typing import Any

from .protocol import dumps
from .wire import SharedFrame

logger = logging.getLogger(__name__)


class JsonEventCodec:
    """Plain WebSocket frames: the socket.io event payload, plus ``seq`` when the update has one."""

    def encode(self, message: dict[str, Any]) -> SharedFrame:
        """Encode a broadcast (see protocol.broadcast_message) as one text frame."""
        event, seq = message["event"], message.get("seq")
        return SharedFrame(dumps(event if seq is None else {**event, "seq": seq}))


class LegacyMsgCodec:
    """Frames of the older helper (PROTOCOL.md section 3): the update travels under ``msg``."""

    def encode(self, message: dict[str, Any]) -> SharedFrame:
        """Encode with ``message`` renamed to ``msg``."""
        event = dict(message["event"])
        event["msg"] = event.pop("message", None)
        if message.get("seq") is not None:
            event["seq"] = message["seq"]
        return SharedFrame(dumps(event))


JSON_EVENTS = JsonEventCodec()
LEGACY_MSG = LegacyMsgCodec()
