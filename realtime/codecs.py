"""Turn a broadcast into the bytes of one transport, once per broadcast, not once per client."""

import logging
from typing import Any

import orjson

from .protocol import dumps, event_json
from .wire import SharedFrame

logger = logging.getLogger(__name__)


class JsonEventCodec:
    """Plain WebSocket frames: the socket.io event payload, plus ``seq`` when the update has one."""

    def encode(self, message: dict[str, Any]) -> SharedFrame:
        """Encode a broadcast (see protocol.broadcast_message) as one text frame."""
        text, seq = event_json(message), message.get("seq")
        if seq is None:
            return SharedFrame(text)
        # The event object with "seq" added, spliced into its JSON (route shapes never
        # have a "seq" of their own).
        return SharedFrame(f'{text[:-1]}{"," if text != "{}" else ""}"seq":{int(seq)}}}')


class LegacyMsgCodec:
    """Frames of the older helper (PROTOCOL.md section 3): the update travels under ``msg``."""

    def encode(self, message: dict[str, Any]) -> SharedFrame:
        """Encode with ``message`` renamed to ``msg``."""
        event = (
            dict(message["event"]) if "event" in message else orjson.loads(message["event_json"])
        )
        event["msg"] = event.pop("message", None)
        if message.get("seq") is not None:
            event["seq"] = message["seq"]
        return SharedFrame(dumps(event))


JSON_EVENTS = JsonEventCodec()
LEGACY_MSG = LegacyMsgCodec()
