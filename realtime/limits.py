"""Input limits: messages per second per connection, connections per client address.

Both are per server process: with N processes behind a balancer an address may hold up to
N x ``MAX_CONNECTIONS_PER_ADDRESS`` connections. Counting across processes would need Redis,
and these limits must keep working while Redis is down.
"""

import logging
import time
from collections import Counter

from . import conf
from .exceptions import Flooding, RateLimited, TooManyConnections

logger = logging.getLogger(__name__)


class RateLimiter:
    """A token bucket of ``MESSAGE_BURST`` tokens refilled at ``MAX_MESSAGES_PER_SECOND``."""

    def __init__(self, rate: float | None = None, burst: int | None = None) -> None:
        self.rate = float(rate if rate is not None else conf.get("MAX_MESSAGES_PER_SECOND"))
        self.burst = float(burst if burst is not None else conf.get("MESSAGE_BURST"))
        self.tolerance = int(conf.get("FLOOD_TOLERANCE"))
        self.tokens = self.burst
        self.stamp = time.monotonic()
        self.refused_in_a_row = 0

    def check(self) -> None:
        """Take a token, or raise RateLimited (drop this message) or Flooding (disconnect)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.refused_in_a_row = 0
            return
        self.refused_in_a_row += 1
        if self.refused_in_a_row > self.tolerance:
            raise Flooding(
                f"Over {self.rate:g} messages per second for {self.tolerance} messages in a row: "
                "disconnected."
            )
        raise RateLimited(
            f"Over {self.rate:g} messages per second: this message was dropped; slow down."
        )


class AddressCounter:
    """Open connections per client address in this process."""

    def __init__(self) -> None:
        self.open: Counter[str] = Counter()

    def acquire(self, address: str | None) -> None:
        """Count one more connection from ``address`` or raise TooManyConnections."""
        limit = int(conf.get("MAX_CONNECTIONS_PER_ADDRESS"))
        key = address or "?"
        if limit and self.open[key] >= limit:
            logger.info("Refused connection %d from %s", self.open[key] + 1, key)
            raise TooManyConnections(
                f"Too many connections from {key} (limit {limit}): close some and retry."
            )
        self.open[key] += 1

    def release(self, address: str | None) -> None:
        """Count one connection from ``address`` less."""
        key = address or "?"
        self.open[key] -= 1
        if self.open[key] <= 0:
            del self.open[key]


ADDRESSES = AddressCounter()
