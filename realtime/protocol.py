"""Frames on the wire: decode and validate what clients send, shape what the server sends."""

import logging
from typing import Any

import orjson

from .exceptions import InvalidMessage

logger = logging.getLogger(__name__)

# Deeper nesting than any real payload has; refusing it keeps a hostile frame cheap.
MAX_DEPTH = 32


def dumps(value: Any) -> str:
    """Serialise to compact JSON text (orjson: fast, and UTF-8 without escapes)."""
    return orjson.dumps(value).decode("utf-8")


def decode_frame(frame: str | bytes, max_bytes: int) -> dict[str, Any]:
    """Parse one client frame into a JSON object, or raise InvalidMessage saying what is wrong."""
    size = len(frame.encode("utf-8")) if isinstance(frame, str) else len(frame)
    if size > max_bytes:
        raise InvalidMessage(
            f"Frame of {size} bytes is over the limit of {max_bytes} bytes.", code="too_large"
        )
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage(f"Frame is not valid JSON: {exc}.", code="bad_json") from None
    return ensure_object(data)


def ensure_object(data: Any) -> dict[str, Any]:
    """Refuse anything but a JSON object of reasonable depth."""
    if not isinstance(data, dict):
        raise InvalidMessage(
            f"Expected a JSON object, got {type(data).__name__}.", code="not_an_object"
        )
    if _depth(data) > MAX_DEPTH:
        raise InvalidMessage(f"Payload nests deeper than {MAX_DEPTH} levels.", code="too_deep")
    return data


def _depth(value: Any, level: int = 0) -> int:
    """Nesting depth, iteratively so a hostile payload cannot exhaust the stack."""
    deepest, stack = level, [(value, level)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


def require_str(data: dict[str, Any], field: str, *, max_length: int = 200) -> str:
    """Return ``data[field]`` as a non-empty string or raise InvalidMessage naming the field."""
    value = data.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidMessage(f"Field {field!r} must be a non-empty string.", code="missing_field")
    if len(value) > max_length:
        raise InvalidMessage(
            f"Field {field!r} is longer than {max_length} characters.", code="bad_field"
        )
    return value


def optional_seq(data: dict[str, Any], field: str = "last_seq") -> int | None:
    """An optional non-negative integer field (a sequence number), validated."""
    value = data.get(field)
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidMessage(f"Field {field!r} must be a non-negative integer.", code="bad_field")
    return value


def error_event(code: str, detail: str) -> dict[str, Any]:
    """The one error frame clients receive for anything they sent wrong."""
    return {"topic": "error", "message": {"code": code, "detail": detail}}


def broadcast_message(
    group: str,
    event_text: str,
    *,
    topic: str,
    key: str | None,
    seq: int | None,
    offset: str | None,
    key_group: str | None = None,
) -> dict[str, Any]:
    """The channel-layer message that carries one event to every server process of a group.

    ``event_text``: the event as JSON, encoded once by the publisher (``dumps``). Why not the
    event itself: every server process would unpack it into a tree of Python objects per
    broadcast only to encode it again, and that churn triggered full garbage collections of
    20-100 ms under load (measured from bench/, the cause of the latency tail).
    ``seq`` numbers the events of one key (the store's); ``offset`` orders the broadcasts of
    one route (realtime.recovery) and is what a socket.io client hands back to recover.
    ``key_group``: the local group of ``key``'s followers, also given the broadcast (it
    travels in its route ``group``; see Hub.join).
    """
    return {
        "type": "realtime.broadcast",
        "group": group,
        "key_group": key_group,
        "key": key,
        "seq": seq,
        "offset": offset,
        "topic": topic,
        "event_json": event_text,
    }


def event_json(message: dict[str, Any]) -> str:
    """A delivered message's event as JSON text: as published, or encoded here.

    Broadcasts carry it encoded (``broadcast_message``); replays and catch-up built in this
    process carry the event object.
    """
    text = message.get("event_json")
    return text if text is not None else dumps(message["event"])


def event_topic(message: dict[str, Any]) -> str | None:
    """The topic of a delivered message's event."""
    topic = message.get("topic")
    return topic if topic is not None else (message.get("event") or {}).get("topic")
