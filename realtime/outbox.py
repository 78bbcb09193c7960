"""Bounded per-connection send queues, and back-pressure at the ASGI server's socket.

Why: the hub hands a frame to every local connection without awaiting any of them, so one
client that stops reading delays only itself. What such a client costs is bounded three ways:

- its ``Outbox`` holds at most ``SEND_QUEUE_SIZE`` frames; a newer full-state frame (a
  ``LATEST_ONLY_TOPICS`` event of the same key) replaces the queued older one, otherwise the
  oldest frame is dropped when full (and counted);
- ``guard_send`` makes the ASGI server's ``send`` wait while more than ``SEND_BUFFER_BYTES``
  sit unsent in its socket buffer (daphne buffers without limit otherwise), so frames stay
  in the bounded outbox instead of piling up in the server;
- a send that has not progressed for ``STUCK_CLIENT_SECONDS`` aborts the TCP connection.

Both transports use it: the plain WebSocket consumer sends through an ``Outbox``; the
socket.io transport feeds the Engine.IO socket's queue from one (``EngineIOSender``).
While an outbox is empty and its connection takes frames without waiting, a broadcast's
shared frame skips the queue and the writer task (``Outbox.direct``, see realtime.wire).
"""

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from . import conf
from .exceptions import SlowClient
from .protocol import event_topic
from .wire import DirectWriter, abort, buffered_bytes, is_closed, server_transport

logger = logging.getLogger(__name__)

SendMany = Callable[[list[Any]], Awaitable[None]]
# A send still waiting after this long means the client is behind (see Outbox._congested).
CONGESTED_AFTER_SECONDS = 0.2


class Outbox:
    """Frames waiting for one connection, sent in order by one writer task."""

    # Slots, and the queue made on first use: an outbox is per connection, mostly empty.
    __slots__ = (
        "_frames",
        "_idle",
        "_maxsize",
        "_next_key",
        "_on_stuck",
        "_ready",
        "_send_many",
        "_sending_since",
        "_started",
        "_writer",
        "direct",
        "dropped",
        "replaced",
        "stuck",
    )

    def __init__(
        self,
        send: Callable[[Any], Awaitable[None]] | None,
        maxsize: int,
        *,
        send_many: SendMany | None = None,
        on_stuck: Callable[[], Any] | None = None,
    ) -> None:
        self._send_many = send_many or _one_by_one(send)
        self._maxsize = max(1, maxsize)
        self._frames: OrderedDict[Any, Any] | None = None  # made by the first queued frame
        self._next_key = 0
        # Created only when needed: most connections never queue a frame (the direct path),
        # and two Events cost 1.5 KB on every one of thousands of connections.
        self._ready: asyncio.Event | None = None  # with the writer task
        self._idle: asyncio.Event | None = None  # by the first flush() that has to wait
        self._started = False
        self._writer: asyncio.Task[None] | None = None
        self._sending_since: float | None = None
        self._on_stuck = on_stuck
        # Set by the transport once the connection can take shared frames directly.
        self.direct: DirectWriter | None = None
        self.stuck = False
        self.dropped = 0
        self.replaced = 0

    def start(self) -> None:
        """Start sending (once the transport can send)."""
        self._started = True
        if self._frames:
            self._start_writer()

    def _start_writer(self) -> None:
        # Only once a frame has to wait: with the direct path most connections never need
        # a writer, and an idle task costs memory on every one of thousands of connections.
        if self._writer is None:
            self._ready = asyncio.Event()
            self._ready.set()
            self._writer = asyncio.get_running_loop().create_task(self._drain(self._ready))

    def push(self, frame: Any, message: dict[str, Any] | None = None) -> None:
        """Send or queue one frame without waiting; never raises.

        ``message``: the broadcast ``frame`` encodes, if it is one. A full-state broadcast
        (see ``latest_only_key``) replaces the same key's older one still queued, so a
        slow client gets fewer, newer frames, in order.
        """
        if self._can_write_directly() and self.direct.write(frame):
            return
        self._check_stuck()
        if self._frames is None:
            self._frames = OrderedDict()
        replace = latest_only_key(message) if message else None
        if replace is not None and self._congested():
            key: Any = ("latest", replace)
            if self._frames.pop(key, None) is not None:
                self.replaced += 1
        else:
            key, self._next_key = self._next_key, self._next_key + 1
        if len(self._frames) >= self._maxsize:
            self._frames.popitem(last=False)
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("Slow client: %d frame(s) dropped so far", self.dropped)
        self._frames[key] = frame
        if self._idle is not None:
            self._idle.clear()
        if self._ready is not None:
            self._ready.set()
        if self._started:
            self._start_writer()

    def _can_write_directly(self) -> bool:
        # Only with nothing queued or being sent: a direct write must not overtake them.
        return (
            self.direct is not None
            and self._started
            and self._sending_since is None
            and not self._frames
        )

    def _congested(self) -> bool:
        # Replace only for a client that is really behind (its send blocked, or a half-full
        # queue): a burst that a fast client drains in the same tick must arrive whole, or
        # "every update exactly once" (recovery, the benchmark's zero loss) would not hold.
        since = self._sending_since
        blocked = since is not None and time.monotonic() - since > CONGESTED_AFTER_SECONDS
        return blocked or len(self._frames) >= self._maxsize // 2

    def _check_stuck(self) -> None:
        since = self._sending_since
        if self.stuck or since is None:
            return
        elapsed = time.monotonic() - since
        if elapsed > conf.get("STUCK_CLIENT_SECONDS"):
            self.stuck = True
            logger.warning("Slow client: no send progress for %.0fs; disconnecting it", elapsed)
            if self._on_stuck is not None:
                result = self._on_stuck()
                if asyncio.iscoroutine(result):
                    asyncio.get_running_loop().create_task(result)

    async def _drain(self, ready: asyncio.Event) -> None:
        while True:
            await ready.wait()
            ready.clear()
            while self._frames:
                batch = list(self._frames.values())
                self._frames.clear()
                self._sending_since = time.monotonic()
                try:
                    await self._send_many(batch)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The transport is gone; its disconnect handler will close us.
                    logger.debug("Send failed; dropping the rest of this outbox", exc_info=True)
                    self._frames.clear()
                    self._mark_idle()
                    return
                finally:
                    self._sending_since = None
            self._mark_idle()

    def _mark_idle(self) -> None:
        if self._idle is not None:
            self._idle.set()

    async def flush(self, timeout: float) -> bool:
        """Wait until every queued frame is handed to the transport; False on timeout."""
        if not self._frames and self._sending_since is None:
            return True
        if self._idle is None:
            self._idle = asyncio.Event()
        try:
            async with asyncio.timeout(timeout):  # not wait_for: see Hub.ask_agents
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop the writer; queued frames are discarded."""
        self._started = False
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except (asyncio.CancelledError, Exception):
                pass
            self._writer = None
        if self._frames:
            self._frames.clear()
        self._mark_idle()


def latest_only_key(message: dict[str, Any]) -> str | None:
    """For a full-state broadcast (``LATEST_ONLY_TOPICS``) of one key: what a newer one replaces.

    ``Outbox.push`` replaces a queued frame of the same key with a newer one, so a slow
    client gets the newest state of an instance instead of a backlog of stale ones.
    """
    key = message.get("key")
    topic = event_topic(message)
    if key is None or topic not in conf.get("LATEST_ONLY_TOPICS"):
        return None
    return f"{topic}:{key}"


def _one_by_one(send: Callable[[Any], Awaitable[None]] | None) -> SendMany:
    if send is None:
        raise TypeError("Outbox needs send or send_many")

    async def send_many(frames: list[Any]) -> None:
        for frame in frames:
            await send(frame)

    return send_many


class EngineIOSender:
    """Hand packets to an Engine.IO socket's queue and wait until its writer took them.

    Engine.IO's queue is unbounded; waiting for it to empty (``join``) keeps the backlog in
    our bounded outbox, where newer states replace older ones. A long-polling client takes
    a whole batch per poll. (A class with slots, not a closure: one per connection.)
    """

    __slots__ = ("eio_socket",)

    def __init__(self, eio_socket: Any) -> None:
        self.eio_socket = eio_socket

    async def __call__(self, packets: list[Any]) -> None:
        """Queue ``packets`` on the socket, then wait until its writer has taken them."""
        eio_socket = self.eio_socket
        if eio_socket.closed or eio_socket.closing:
            raise ConnectionError("Engine.IO socket closed")
        for frame in packets:
            eio_socket.queue.put_nowait(frame.packet)
        await eio_socket.queue.join()

    def close_stuck(self) -> Awaitable[None]:
        """End the session of a client that stopped polling or reading, without waiting on
        its queue (which nobody drains)."""
        return self.eio_socket.close(wait=False, abort=True)


def guard_send(send: Callable[[dict], Awaitable[None]]) -> Callable[[dict], Awaitable[None]]:
    """Wrap a WebSocket ``send``: wait while the socket buffer is full, abort when stuck."""
    transport = server_transport(send)
    if transport is None:
        return send
    return GuardedSend(send, transport)


class GuardedSend:
    """A WebSocket ``send`` that waits while the socket buffer is full and aborts when stuck
    (see ``guard_send``; a class with slots, not a closure: one per connection)."""

    __slots__ = ("limit", "patience", "send", "transport")

    def __init__(self, send: Callable[[dict], Awaitable[None]], transport: Any) -> None:
        self.send, self.transport = send, transport
        self.limit, self.patience = conf.get("SEND_BUFFER_BYTES"), conf.get("STUCK_CLIENT_SECONDS")

    async def __call__(self, message: dict) -> None:
        """Send ``message``, then wait while more than SEND_BUFFER_BYTES are unsent."""
        transport, started = self.transport, time.monotonic()
        # No task or timer per frame (the hot path): the process's one watchdog aborts a
        # send that has been waiting longer than ``patience`` (uvicorn waits for drain).
        _sends_in_flight[transport] = started
        _start_watchdog()
        try:
            await self.send(message)
        finally:
            _sends_in_flight.pop(transport, None)
        while buffered_bytes(transport) > self.limit and not is_closed(transport):
            if time.monotonic() - started > self.patience:
                _give_up(transport, None)
            await asyncio.sleep(0.01)  # daphne offers no drain event to wait on


# transport -> when its current send started; swept by one watchdog task per process.
_sends_in_flight: dict[Any, float] = {}
_watchdog: asyncio.Task | None = None


def _start_watchdog() -> None:
    global _watchdog
    loop = asyncio.get_running_loop()
    if _watchdog is None or _watchdog.done() or _watchdog.get_loop() is not loop:
        _watchdog = loop.create_task(_watch_sends())


async def _watch_sends() -> None:
    patience = conf.get("STUCK_CLIENT_SECONDS")
    while True:
        await asyncio.sleep(min(1.0, patience / 4))
        now = time.monotonic()
        for transport, started in list(_sends_in_flight.items()):
            if now - started > patience and _sends_in_flight.pop(transport, None) is not None:
                logger.warning(
                    "Slow client: socket not drained for %.0fs; aborting the connection",
                    patience,
                )
                abort(transport)  # the waiting send then fails and its connection closes


def _give_up(transport: Any, pending: asyncio.Future | None) -> None:
    logger.warning(
        "Slow client: socket not drained for %.0fs; aborting the connection",
        conf.get("STUCK_CLIENT_SECONDS"),
    )
    abort(transport)
    if pending is not None:
        pending.cancel()
    raise SlowClient("The client read nothing for too long and was disconnected.")
