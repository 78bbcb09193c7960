"""One client connection as the routes see it, whatever transport carries it."""

import logging
from typing import Any, Protocol

from . import conf, groups, protocol
from .codecs import JSON_EVENTS, LEGACY_MSG
from .exceptions import RealtimeError
from .hub import Codec, Hub

logger = logging.getLogger(__name__)


class Transport(Protocol):
    """What a transport (plain WebSocket consumer, socket.io namespace) gives a session."""

    codec: Codec

    def push(self, frame: Any) -> None:
        """Queue a frame for this connection without blocking."""


class Session:
    """Subscriptions and identity of one connection on one route."""

    def __init__(self, route: Any, transport: Transport, hub: Hub, *, is_agent: bool = False):
        self.route = route
        self.transport = transport
        self.hub = hub
        self.is_agent = is_agent
        self.codec: Codec = transport.codec
        # None: follows every broadcast of the route; a set: only these keys.
        self.keys: set[str] | None = None
        self._groups: set[str] = set()

    # -- Member protocol (the hub delivers to sessions) ---------------------------------

    def push(self, frame: Any) -> None:
        """Hand a frame to the transport."""
        self.transport.push(frame)

    # -- lifecycle ----------------------------------------------------------------------

    async def open(self, key: str | None = None) -> None:
        """Start receiving: the whole route, or only ``key`` when given."""
        if key is not None:
            await self.follow(key)
        else:
            await self._join(groups.route_group(self.route.name))
        if self.is_agent:
            await self._join(groups.agents_group())

    async def close(self) -> None:
        """Leave every group; safe to call twice."""
        for group in tuple(self._groups):
            self._groups.discard(group)
            await self.hub.leave(group, self)

    async def follow(self, key: str) -> None:
        """Narrow this connection to ``key`` (adding to keys it already follows)."""
        if self.keys is None:
            self.keys = set()
            await self._leave(groups.route_group(self.route.name))
        self.keys.add(key)
        await self._join(groups.key_group(self.route.name, key))

    def use_legacy_frames(self) -> None:
        """Send updates under ``msg`` from now on (PROTOCOL.md section 3 clients)."""
        if self.codec is JSON_EVENTS:
            self.codec = LEGACY_MSG

    async def _join(self, group: str) -> None:
        if group not in self._groups:
            self._groups.add(group)
            await self.hub.join(group, self)

    async def _leave(self, group: str) -> None:
        if group in self._groups:
            self._groups.discard(group)
            await self.hub.leave(group, self)

    # -- talking to this client only ----------------------------------------------------

    def reply(self, event: dict[str, Any], seq: int | None = None) -> None:
        """Send one event to this connection only."""
        self.push(self.codec.encode({"event": event, "seq": seq}))

    def reply_error(self, error: RealtimeError) -> None:
        """Send the error frame for ``error``."""
        detail = getattr(error, "detail", None) or str(error)
        self.reply(protocol.error_event(error.code, detail))

    async def receive(self, data: dict[str, Any]) -> None:
        """Run one decoded client message through the route; errors become error frames."""
        try:
            await self.route.handle(self, data)
        except RealtimeError as error:
            self.reply_error(error)
        except Exception:
            logger.exception("Unexpected error handling a %s message", self.route.name)
            self.reply(protocol.error_event("internal_error", "The server could not handle it."))

    async def receive_text(self, frame: str | bytes) -> None:
        """Decode one raw frame and handle it."""
        try:
            data = protocol.decode_frame(frame, conf.get("MAX_MESSAGE_BYTES"))
        except RealtimeError as error:
            self.reply_error(error)
            return
        await self.receive(data)
