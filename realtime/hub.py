"""Per-process fan-out: one channel-layer channel per server process, local delivery from there.

Why not one channel per connection (the textbook Channels pattern)? Measured here, it costs
one Redis message per client per update, fans out at ~2,000 deliveries/s and silently drops
updates once a consumer's channel reaches the layer's capacity. Instead the hub of each
process joins a group once, receives each broadcast once and hands the frame, encoded once
per codec, to its local members. A broadcast travels in its route's group and names its
key's group too, so a publish is one channel-layer message whether clients follow the whole
route or one instance; a hub with followers of a key joins the route group and delivers to
its local members of both.

Delivery: at most once per member per broadcast (a member is in a group at most once, a
broadcast reaches one route group and one key group, and a session follows either the route
or keys of it, never both). Nothing is buffered for members that are not yet joined.

Redis outages: local membership never depends on Redis. A join while the layer is down is
accepted and subscribed locally; the hub's repair task retries the channel-layer side with
a capped back-off until it succeeds, and re-adds every group after a receive failure (a
restarted Redis has forgotten them). Broadcasts published during the outage are lost to
the live stream (publishers got a PublishError); the store keeps the records.
"""

import asyncio
import logging
import uuid
from collections import defaultdict
from typing import Any, Protocol

from . import bridge, conf, shutdown
from .backlog import Backlog, queued_within
from .loops import PerLoop

logger = logging.getLogger(__name__)

BROADCAST = "realtime.broadcast"
UIA_REQUEST = "realtime.uia_request"
UIA_ACK = "realtime.uia_ack"
MAX_BACKOFF = 5.0


class Codec(Protocol):
    """Encodes a broadcast message into one transport's frame."""

    def encode(self, message: dict[str, Any]) -> Any:
        """Return the frame for ``message``."""


class Member(Protocol):
    """A local connection the hub delivers to."""

    codec: Codec

    def push(self, frame: Any, message: dict[str, Any]) -> None:
        """Queue ``frame`` (the encoding of broadcast ``message``) without blocking."""


class Hub:
    """The fan-out point of one server process (one event loop)."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.members: dict[str, set[Member]] = defaultdict(set)
        # Local group -> the channel-layer group that carries it, and the reverse (only
        # local groups with members); ``_joined``: channel-layer groups we are in.
        self._carrier: dict[str, str] = {}
        self._carried: dict[str, set[str]] = defaultdict(set)
        self._joined: set[str] = set()
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._pending_acks: dict[str, asyncio.Future[bool]] = {}
        self._rejoin_needed = False
        self._repair: asyncio.Task[None] | None = None

    # -- membership ---------------------------------------------------------------------

    async def join(self, group: str, member: Member, *, carrier: str | None = None) -> None:
        """Deliver broadcasts of ``group`` to ``member`` from now on.

        ``carrier``: the channel-layer group whose messages bring ``group``'s broadcasts
        (default: ``group`` itself). A key group's carrier is its route group: a publish
        sends one channel-layer message, to the route group, naming its key group too.
        """
        self.members[group].add(member)
        layer_group = self._carrier.setdefault(group, carrier or group)
        self._carried[layer_group].add(group)
        await self._sync(layer_group)

    async def leave(self, group: str, member: Member) -> None:
        """Stop delivering ``group`` to ``member``; never raises (called on disconnect)."""
        members = self.members.get(group)
        if members is None:
            return
        members.discard(member)
        layer_group = self._carrier.get(group, group)
        if not members:
            del self.members[group]
            self._carrier.pop(group, None)
            self._carried[layer_group].discard(group)
        try:
            await self._sync(layer_group)
        except Exception as exc:  # e.g. Redis down: the stale membership expires on its own
            logger.warning("Could not leave group %s in the channel layer: %r", group, exc)

    async def _sync(self, layer_group: str) -> None:
        # Under one lock, so a join racing a leave of the last member can never end with
        # local members and no channel-layer membership (or the reverse). ``_joined`` is
        # what we *want* in the layer; when the layer refuses, the repair task catches up.
        async with self._lock:
            wanted = bool(self._carried.get(layer_group))
            changed = wanted != (layer_group in self._joined)
            # Recorded before the layer is asked: if it refuses (or, on the pub/sub layer,
            # the hub's channel cannot even be created), the repair task re-joins from this.
            if wanted:
                self._joined.add(layer_group)
            else:
                self._joined.discard(layer_group)
                self._carried.pop(layer_group, None)
            try:
                await self._start()
                if changed and wanted:
                    await self.layer.group_add(layer_group, self.channel)
                elif changed:
                    await self.layer.group_discard(layer_group, self.channel)
            except Exception:
                if not wanted:
                    raise  # leave() logs it; a stale member expires and costs nothing
                logger.warning(
                    "Channel layer refused group %s; joined locally, retrying", layer_group
                )
                self._needs_repair()

    async def _start(self) -> None:
        if self.channel is not None:
            return
        # RedisPubSubChannelLayer subscribes here, so this can fail while Redis is down.
        self.channel = await self.layer.new_channel("realtime")
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._read_loop()), loop.create_task(self._refresh_loop())]
        logger.info("Realtime hub listening on %s", self.channel)

    def _needs_repair(self) -> None:
        self._rejoin_needed = True
        if self._repair is None or self._repair.done():
            self._repair = asyncio.get_running_loop().create_task(self._repair_loop())

    async def _repair_loop(self) -> None:
        # Retries until the layer takes every wanted group again, then ends.
        backoff = 0.1
        while self._rejoin_needed:
            try:
                async with self._lock:
                    await self._start()
                await self._rejoin_all()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("Hub could not re-join groups (%r); retry in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    async def aclose(self) -> None:
        """Stop the hub's tasks and leave every group (tests, graceful shutdown)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []
        if self._repair is not None:
            self._repair.cancel()
            self._repair = None
        self._rejoin_needed = False
        for group in tuple(self._joined):
            try:
                await self.layer.group_discard(group, self.channel)
            except Exception:
                logger.warning("Could not leave group %s", group, exc_info=True)
        self._joined.clear()
        self.members.clear()
        self._carrier.clear()
        self._carried.clear()
        self.channel = None

    # -- receiving ----------------------------------------------------------------------

    async def _read_loop(self) -> None:
        backoff = 0.1
        # Delivers broadcasts that queued up together (see realtime.backlog).
        backlog = Backlog(self.dispatch, BROADCAST, queued_within(self.layer))
        clock = asyncio.get_running_loop().time
        while True:
            try:
                backlog.receiving()
                started = clock()
                message = await self.layer.receive(self.channel)
                backoff = 0.1
            except asyncio.CancelledError:
                backlog.flush()
                raise
            except Exception as exc:
                backlog.flush()
                # Redis went away (or similar): keep sockets open, retry with a capped back-off,
                # and let the repair task re-add our groups (a restarted Redis forgot them).
                logger.warning("Hub receive failed (%r); retrying in %.1fs", exc, backoff)
                self._needs_repair()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backlog.received(message, clock() - started)

    async def _refresh_loop(self) -> None:
        # channels-redis forgets group members after group_expiry; re-adding keeps us in.
        while True:
            await asyncio.sleep(conf.get("GROUP_REFRESH_SECONDS"))
            try:
                await self._rejoin_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("Hub group refresh failed", exc_info=True)

    async def _rejoin_all(self) -> None:
        async with self._lock:
            for group in tuple(self._joined):
                await self.layer.group_add(group, self.channel)
            self._rejoin_needed = False
        logger.info("Hub re-joined %d group(s)", len(self._joined))

    def dispatch(self, message: dict[str, Any]) -> None:
        """Handle one channel-layer message addressed to this process."""
        kind = message.get("type")
        if kind == BROADCAST:
            self.deliver(message["group"], message)
            key_group = message.get("key_group")
            if key_group is not None:
                self.deliver(key_group, message)
        elif kind == UIA_REQUEST:
            self._forward_request(message)
        elif kind == UIA_ACK:
            future = self._pending_acks.get(message.get("request_id", ""))
            if future is not None and not future.done():
                future.set_result(True)
        else:
            logger.warning("Hub ignored a message of unknown type %r", kind)

    def deliver(self, group: str, message: dict[str, Any]) -> int:
        """Push ``message`` to the local members of ``group``; returns how many got it."""
        members = self.members.get(group)
        if not members:
            return 0
        frames: dict[int, Any] = {}
        last_codec = frame = None
        for member in tuple(members):
            codec = member.codec
            if codec is not last_codec:  # members of a group mostly share one codec
                frame = frames.get(id(codec))
                if frame is None:
                    frame = frames[id(codec)] = codec.encode(message)
                last_codec = codec
            member.push(frame, message)
        return len(members)

    # -- uia agents ---------------------------------------------------------------------

    async def ask_agents(self, group: str, event: dict[str, Any], timeout: float) -> bool:
        """Send ``event`` to every agent of ``group`` on every process; True if any took it."""
        async with self._lock:
            await self._start()  # the channel must exist for acks to come back
        request_id = uuid.uuid4().hex
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending_acks[request_id] = future
        try:
            await self.layer.group_send(
                group,
                {
                    "type": UIA_REQUEST,
                    "group": group,
                    "event": event,
                    "reply_to": self.channel,
                    "request_id": request_id,
                },
            )
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancel that
            # arrives as the future completes (CPython gh-86296; see realtime.recovery).
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            return False
        finally:
            self._pending_acks.pop(request_id, None)

    def _forward_request(self, message: dict[str, Any]) -> None:
        if self.deliver(message["group"], {"event": message["event"], "seq": None}) == 0:
            return
        ack = {"type": UIA_ACK, "request_id": message["request_id"]}
        asyncio.get_running_loop().create_task(self._send_ack(message["reply_to"], ack))

    async def _send_ack(self, channel: str, ack: dict[str, Any]) -> None:
        try:
            await self.layer.send(channel, ack)
        except Exception:
            logger.warning("Could not acknowledge a uia request", exc_info=True)


_hubs: PerLoop[Hub] = PerLoop()


def current_hub() -> Hub | None:
    """The hub of the running loop if one was created, else None."""
    return _hubs.current()


def get_hub() -> Hub:
    """The hub of the running event loop (one per server process), created on first use.

    Created lazily because daphne, and so runserver, has no ASGI lifespan to start it in.
    """
    return _hubs.get(_new_hub)


def _new_hub() -> Hub:
    loop = asyncio.get_running_loop()
    bridge.set_home_loop(loop)
    shutdown.install(loop)
    return Hub(conf.channel_layer())
