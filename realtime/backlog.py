"""When broadcasts queue up for a server process, deliver them together.

Why: writing a frame costs a syscall per recipient, most of a broadcast's cost at scale
(6.5 us for a 3.4 KB frame to one of 1,000 loopback sockets; ``bench/micro/writev.py``).
When the publisher outpaces the fan-out, broadcasts wait in the channel layer, and the hub
can hand several to each connection in one write: three frames in one writev cost 2.5 us
each, six 1.4 us. So the hub's reader tells ``Backlog`` how long each receive took: one
that returned within the layer's time for a waiting message (``queued_within``) found it
already waiting, so the next is probably waiting too, and the message is held for it. Held
messages are delivered as soon as a receive takes longer (nothing more is waiting), at
``MAX_BATCH`` messages, when a message other than a broadcast arrives, or once held for as
long as delivering one message took last time (at most ``MAX_HOLD_SECONDS``): with few
recipients nothing is held, and the latency a hold adds never exceeds what one more
delivery would cost. A message that came after a longer wait is delivered at once.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from . import wire

logger = logging.getLogger(__name__)

# channels-redis's core layer pulls each message with three Redis round trips (EVAL,
# BZPOPMIN, ZADD): a waiting message takes up to about QUEUED_SECONDS. The pub/sub and
# in-memory layers hand over a message they already hold without waiting at all.
QUEUED_SECONDS = 0.003
QUEUED_SECONDS_PUSHED = 0.0003
MAX_HOLD_SECONDS = 0.010
MAX_BATCH = 32


def queued_within(layer: Any) -> float:
    """How long ``layer``'s receive takes, at most, for a message that was already waiting."""
    return QUEUED_SECONDS if type(layer).__name__ == "RedisChannelLayer" else QUEUED_SECONDS_PUSHED


class Backlog:
    """Holds broadcasts that were already waiting, and delivers them with coalesced writes."""

    def __init__(
        self,
        dispatch: Callable[[dict[str, Any]], None],
        held_kind: str,
        queued_seconds: float = QUEUED_SECONDS,
    ) -> None:
        self._dispatch = dispatch
        self._held_kind = held_kind  # only messages of this type are held (broadcasts)
        self._queued_seconds = queued_seconds
        self._held: list[dict[str, Any]] = []
        self._since = 0.0
        self._timer: asyncio.TimerHandle | None = None
        # What delivering one message took last time: holding a message for longer than
        # that would cost more latency than it saves (few recipients: nothing is held).
        self._cost = 0.0

    def _hold_limit(self) -> float:
        return min(MAX_HOLD_SECONDS, self._cost)

    def receiving(self) -> None:
        """The reader is about to wait for the next message: deliver the held ones unless it
        comes within the layer's queued time and the hold limit."""
        if self._held:
            loop = asyncio.get_running_loop()
            left = self._since + self._hold_limit() - loop.time()
            self._timer = loop.call_later(min(self._queued_seconds, max(0.0, left)), self.flush)

    def received(self, message: dict[str, Any], waited: float) -> None:
        """Take ``message``, whose receive took ``waited`` seconds: hold it or deliver now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = asyncio.get_running_loop().time()
        if not self._held:
            self._since = now
        self._held.append(message)
        limit = self._hold_limit()
        if (
            waited >= self._queued_seconds
            or message.get("type") != self._held_kind
            or len(self._held) >= MAX_BATCH
            or limit < self._queued_seconds  # the next message could not join in time
            or now - self._since >= limit
        ):
            self.flush()

    def flush(self) -> None:
        """Deliver what is held, in order, each connection's frames in one write."""
        self._timer = None
        held, self._held = self._held, []
        if not held:
            return
        started = time.perf_counter()
        if len(held) == 1:
            self._deliver(held[0])
        else:
            with wire.coalesced_writes():
                for message in held:
                    self._deliver(message)
        self._cost = (time.perf_counter() - started) / len(held)

    def _deliver(self, message: dict[str, Any]) -> None:
        try:
            self._dispatch(message)
        except Exception:
            logger.exception("Dropping a hub message that could not be delivered")
