"""One client connection as the routes see it, whatever transport carries it."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from . import conf, groups, protocol, records
from .codecs import JSON_EVENTS, LEGACY_MSG
from .exceptions import RealtimeError
from .hub import Codec, Hub
from .recovery import parse_offset

logger = logging.getLogger(__name__)

# Recorded for the runner, never broadcast: not replayed to clients either.
CONTROL_TOPICS = frozenset({"debug_sign"})


class Transport(Protocol):
    """What a transport (plain WebSocket consumer, socket.io namespace) gives a session."""

    codec: Codec

    def push(self, frame: Any, message: dict[str, Any] | None = None) -> None:
        """Queue a frame for this connection without blocking."""


class Session:
    """Subscriptions and identity of one connection on one route.

    Catching up (a snapshot or missed events) and live delivery never overlap: while a
    session catches up, live frames are held, and every frame of a key whose ``seq`` the
    client already has (or whose route ``offset`` was already replayed) is dropped.
    """

    # One per connection, so slots: a dict of attributes would be 0.5 KiB more on each.
    __slots__ = (
        "_floors",
        "_groups",
        "_held",
        "_holds",
        "_offset_floor",
        "admission",  # set by the transport's admission (realtime.admission)
        "codec",
        "hub",
        "is_agent",
        "keys",
        "on_change",
        "route",
        "transport",
        "user",  # likewise
    )

    def __init__(self, route: Any, transport: Transport, hub: Hub, *, is_agent: bool = False):
        self.route = route
        self.transport = transport
        self.hub = hub
        self.is_agent = is_agent
        self.codec: Codec = transport.codec
        # None: follows every broadcast of the route; a set: only these keys.
        self.keys: set[str] | None = None
        # Called after subscriptions change (socket.io saves them for recovery).
        self.on_change: Callable[[Session], Awaitable[None]] | None = None
        # A tuple, not a set: one or two groups, and an empty set is 0.2 KiB per connection.
        self._groups: tuple[str, ...] = ()
        self._floors: dict[str, int] = {}
        self._offset_floor: tuple[int, int] | None = None
        self._held: list[tuple[Any, dict[str, Any] | None]] | None = None
        self._holds = 0

    # -- Member protocol (the hub delivers to sessions) ---------------------------------

    def push(self, frame: Any, message: dict[str, Any] | None = None) -> None:
        """Hand a broadcast frame on, unless the client has it already or it must wait."""
        if message is not None and self._already_has(message):
            return
        if self._held is not None:
            self._held.append((frame, message))
            return
        self.transport.push(frame, message)

    def deliver_now(self, frame: Any, message: dict[str, Any]) -> None:
        """Send a replayed broadcast ahead of held live frames (unless the client has it)."""
        if not self._already_has(message):
            self.transport.push(frame, message)

    def _already_has(self, message: dict[str, Any]) -> bool:
        seq = message.get("seq")
        if seq is not None and self._floors and seq <= self._floors.get(message.get("key"), 0):
            return True
        if self._offset_floor is not None and message.get("offset"):
            offset = parse_offset(message["offset"])
            return offset is not None and offset <= self._offset_floor
        return False

    def wants(self, key: str | None) -> bool:
        """True if broadcasts of ``key`` are for this session."""
        return self.keys is None or key in self.keys

    # -- lifecycle ----------------------------------------------------------------------

    async def open(self, key: str | None = None, *, last_seq: int | None = None) -> None:
        """Start receiving: the whole route, or ``key`` (state first, or what it missed)."""
        if key is not None:
            await self.follow(key, last_seq=last_seq)
        else:
            await self._join(groups.route_group(self.route.name))
        if self.is_agent:
            await self._join(groups.agents_group())

    async def start(self, key: str | None, options: dict[str, Any]) -> None:
        """Open as a client's connect options ask (``key``, ``last_seq``), for either transport.

        Bad options get an error frame; the connection still subscribes as best it can.
        """
        try:
            last_seq = protocol.optional_seq(options)
        except RealtimeError as error:
            self.reply_error(error)
            last_seq = None
        try:
            await self.open(key, last_seq=last_seq)
        except RealtimeError as error:  # e.g. an unknown instance: it stays followed
            self.reply_error(error)

    async def close(self) -> None:
        """Leave every group; safe to call twice."""
        while self._groups:
            group, self._groups = self._groups[0], self._groups[1:]
            await self.hub.leave(group, self)

    async def follow(self, key: str, *, last_seq: int | None = None, state: bool = True) -> None:
        """Narrow to ``key`` (adding to keys already followed), then catch up on it.

        ``last_seq`` given: replay what was missed after it (or, if that is no longer
        kept, say so and send the state); else send the current state when ``state``.
        """
        self.hold()
        try:
            if self.keys is None:
                self.keys = set()
                await self._leave(groups.route_group(self.route.name))
            self.keys.add(key)
            await self._join_key(key)
            if state or last_seq is not None:
                await self._catch_up(key, last_seq)
        finally:
            self.release()
        if self.on_change is not None:
            await self.on_change(self)

    async def show_state(self, key: str) -> None:
        """Send the current state of ``key`` now; later updates follow without overlap."""
        self.hold()
        try:
            await self._catch_up(key, None)
        finally:
            self.release()

    async def _catch_up(self, key: str, last_seq: int | None) -> None:
        if last_seq is not None:
            events = await records.events_after(self.route.name, key, last_seq)
            if events is not None:
                for seq, topic, event in events:
                    if topic not in CONTROL_TOPICS:
                        self.reply(event, seq)
                self._floors[key] = max(last_seq, events[-1][0] if events else last_seq)
                return
            # The gap is older than what is kept: an explicit answer, never a silent resume.
            detail = {"reason": "gap_too_old", "last_seq": last_seq}
            self.reply(self.route.shape("resync", key, detail))
        message, seq = await records.current(self.route.name, key)
        self.reply(self.route.shape(self.route.name, key, message), seq)
        self._floors[key] = max(seq, self._floors.get(key, 0))

    def hold(self) -> None:
        """Hold live frames until ``release`` (nested holds release at the last one)."""
        self._holds += 1
        if self._held is None:
            self._held = []

    def release(self) -> None:
        """Send held frames the client does not have yet, then deliver live again."""
        self._holds -= 1
        if self._holds > 0 or self._held is None:
            return
        held, self._held = self._held, None
        for frame, message in held:
            self.push(frame, message)

    def skip_through(self, offset: str) -> None:
        """Drop broadcasts at or before route ``offset`` (they were replayed by recovery)."""
        self._offset_floor = parse_offset(offset)

    def use_legacy_frames(self) -> None:
        """Send updates under ``msg`` from now on (PROTOCOL.md section 3 clients)."""
        if self.codec is JSON_EVENTS:
            self.codec = LEGACY_MSG

    def export_state(self) -> dict[str, Any]:
        """What recovery needs to rebuild this session on any server process."""
        keys = None if self.keys is None else sorted(self.keys)
        return {"keys": keys, "agent": self.is_agent, "floors": self._floors}

    async def restore(self, state: dict[str, Any]) -> None:
        """Rebuild the subscriptions of an exported session (recovery)."""
        self.is_agent = bool(state.get("agent"))
        self._floors = {str(k): int(v) for k, v in (state.get("floors") or {}).items()}
        keys = state.get("keys")
        if keys is None:
            await self._join(groups.route_group(self.route.name))
        else:
            self.keys = set(keys)
            for key in self.keys:
                await self._join_key(key)
        if self.is_agent:
            await self._join(groups.agents_group())

    async def _join(self, group: str, carrier: str | None = None) -> None:
        if group not in self._groups:
            self._groups = (*self._groups, group)
            await self.hub.join(group, self, carrier=carrier)

    async def _join_key(self, key: str) -> None:
        # The route group carries every broadcast of the route, naming its key group
        # (realtime.publish): one channel-layer message per publish, however clients follow.
        route = self.route.name
        await self._join(groups.key_group(route, key), carrier=groups.route_group(route))

    async def _leave(self, group: str) -> None:
        if group in self._groups:
            self._groups = tuple(joined for joined in self._groups if joined != group)
            await self.hub.leave(group, self)

    # -- talking to this client only ----------------------------------------------------

    def reply(self, event: dict[str, Any], seq: int | None = None) -> None:
        """Send one event to this connection only (ahead of held live frames)."""
        self.transport.push(self.codec.encode({"event": event, "seq": seq}))

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
