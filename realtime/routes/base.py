"""What every route shares: dispatching client messages, the subscribe form, event shapes."""

import logging
from typing import Any, ClassVar

from .. import policy
from ..exceptions import InvalidMessage
from ..protocol import optional_seq, require_str

logger = logging.getLogger(__name__)


class Route:
    """The rules of one route, used unchanged by every transport.

    Override these: ``name`` (also the socket.io namespace and event), ``key_field`` (the id
    that narrows a subscription) and ``handlers`` ((topic, msg) -> method name).
    """

    name: ClassVar[str]
    key_field: ClassVar[str]
    handlers: ClassVar[dict[tuple[str, str], str]]
    # Handler method name -> the policy action it needs (realtime.policy); absent: none.
    actions: ClassVar[dict[str, str]] = {}

    async def handle(self, session: Any, data: dict[str, Any]) -> None:
        """Run one client message; raise a RealtimeError for anything the client got wrong."""
        if "action" in data:
            await self.subscribe(session, data)
            return
        topic, msg = require_str(data, "topic"), require_str(data, "msg")
        handler = self.handlers.get((topic, msg))
        if handler is None:
            known = ", ".join(f"{t}/{m}" for t, m in self.handlers)
            raise InvalidMessage(
                f"Unknown message topic={topic!r} msg={msg!r} on {self.name}; known: {known}.",
                code="unknown_message",
            )
        if handler in self.actions:
            await policy.require(_user(session), self.actions[handler], self.name, _key(self, data))
        await getattr(self, handler)(session, data)

    async def subscribe(self, session: Any, data: dict[str, Any]) -> None:
        """``{"action": "subscribe", "topic": ROUTE[, KEY_FIELD: id[, "last_seq": n]]}``.

        PROTOCOL.md section 3; with an id it narrows (state first, or what was missed
        after ``last_seq``)."""
        if data["action"] != "subscribe":
            raise InvalidMessage(
                f"Unknown action {data['action']!r}; the only action is 'subscribe'.",
                code="unknown_message",
            )
        topic = data.get("topic", self.name)
        if topic != self.name:
            raise InvalidMessage(
                f"Cannot subscribe to topic {topic!r} on route {self.name}.", code="unknown_topic"
            )
        session.use_legacy_frames()
        if data.get(self.key_field) is not None:
            await policy.require(_user(session), "follow", self.name, self.key_of(data))
            await session.follow(self.key_of(data), last_seq=optional_seq(data))

    def key_of(self, data: dict[str, Any]) -> str:
        """The id this message is about, validated."""
        return require_str(data, self.key_field)

    def shape(self, topic: str, key: str | None, message: Any) -> dict[str, Any]:
        """The outbound event exactly as PROTOCOL.md gives it."""
        if key is None:
            return {"topic": topic, "message": message}
        return {"topic": topic, self.key_field: key, "message": message}


def _user(session: Any) -> Any:
    """The connection's user (set at admission); a session made without one is anonymous."""
    from django.contrib.auth.models import AnonymousUser

    return getattr(session, "user", None) or AnonymousUser()


def _key(route: Route, data: dict[str, Any]) -> str | None:
    key = data.get(route.key_field)
    return key if isinstance(key, str) else None
