"""The connect-time gate both transports pass through: draining, address limit, who, what.

A refusal is a ``Refused`` exception carrying its error code and WebSocket close code; the
transport turns it into its own refusal (close 4401/4403/4429/1012, or a socket.io connect
error with ``{"message", "code"}``).
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async

from . import auth, policy, shutdown
from .limits import ADDRESSES, RateLimiter

logger = logging.getLogger(__name__)


@dataclass
class Admission:
    """An admitted connection: its user, its address slot and its message rate limiter."""

    user: Any
    address: str | None
    limiter: RateLimiter = field(default_factory=RateLimiter)
    released: bool = False

    def release(self) -> None:
        """Give back the address slot; safe to call twice."""
        if not self.released:
            self.released = True
            ADDRESSES.release(self.address)


async def admit(
    *,
    route: str,
    address: str | None,
    token: str | None,
    cookie: str | None,
    key: str | None,
    agent: bool,
) -> Admission:
    """Admit a connection to ``route`` (narrowed to ``key``), or raise Refused saying why."""
    shutdown.check_accepting()
    ADDRESSES.acquire(address)
    try:
        # One hop to a worker thread for both (each hop also closes stale DB connections).
        user = await database_sync_to_async(_identify_and_authorize)(
            token, cookie, route, key, agent
        )
    except BaseException:
        ADDRESSES.release(address)
        raise
    return Admission(user=user, address=address)


def _identify_and_authorize(
    token: str | None, cookie: str | None, route: str, key: str | None, agent: bool
) -> Any:
    user = auth.authenticate_sync(token, cookie)
    # Agents follow the whole uia route to hear answers; the agent permission covers it.
    policy.check(user, "agent" if agent else "follow", route, None if agent else key)
    return user
