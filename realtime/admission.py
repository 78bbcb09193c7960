"""The connect-time gate both transports pass through: draining, address limit, who, what.

A refusal is a ``Refused`` exception carrying its error code and WebSocket close code; the
transport turns it into its own refusal (close 4401/4403/4429/1012, or a socket.io connect
error with ``{"message", "code"}``).
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async

from . import auth, conf, policy, shutdown
from .batching import Batcher
from .limits import ADDRESSES, RateLimiter
from .loops import PerLoop

logger = logging.getLogger(__name__)


@dataclass(slots=True)  # one per connection
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
    request = (token, cookie, route, key, agent)
    try:
        if _nothing_to_look_up(token, cookie):
            user = _identify_and_authorize(*request)
        else:
            user = await _checks().submit(request)
    except BaseException:
        ADDRESSES.release(address)
        raise
    return Admission(user=user, address=address)


def _nothing_to_look_up(token: str | None, cookie: str | None) -> bool:
    """No token, no session cookie and the built-in policy: decided without the database.

    Why: the hop to the database thread (below) is the dearest part of admitting such a
    connection, and nothing here would read the database: the connection is anonymous,
    which the built-in policy answers from the settings alone (a policy of your own may
    read the database for anyone, so it always runs in the thread). In production, where
    anonymous access is off, that makes refusing clients without credentials cheap.
    """
    if token or (cookie and auth.session_key_from_cookie(cookie)):
        return False
    return conf.policy() is policy.permission_policy


# Connects arriving together are checked in one hop to the database thread: a hop (context
# copy, thread hand-off, stale-connection checks before and after) cost about a tenth of a
# socket.io connect's CPU. Checks still run one by one, each with its own answer.
_batchers: PerLoop[Batcher[tuple, Any]] = PerLoop()


def _checks() -> Batcher[tuple, Any]:
    return _batchers.get(lambda: Batcher(database_sync_to_async(_check_all)))


def _check_all(requests: list[tuple]) -> list[Any]:
    """Each request's user, or the exception that refused it (in the database thread)."""
    results: list[Any] = []
    for request in requests:
        try:
            results.append(_identify_and_authorize(*request))
        except Exception as exc:
            results.append(exc)
    return results


def _identify_and_authorize(
    token: str | None, cookie: str | None, route: str, key: str | None, agent: bool
) -> Any:
    user = auth.authenticate_sync(token, cookie)
    # Agents follow the whole uia route to hear answers; the agent permission covers it.
    policy.check(user, "agent" if agent else "follow", route, None if agent else key)
    return user
