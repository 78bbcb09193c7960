"""Authorization: one pluggable policy decides who may follow, control, ask and act as agent.

A policy is any callable ``policy(user, action, route, key) -> bool`` named by
``REALTIME["POLICY"]``; it runs in a worker thread, so it may use the database (only the
built-in policy, for a connection without credentials, is asked in the event loop:
realtime.admission). ``action`` is ``follow`` (receive a whole route when ``key`` is None,
else one instance or process), ``control`` (debug signs and step_debug for ``key``),
``request`` (ask agents for a uia pick) or ``agent`` (connect as a UI-automation picker
agent).
"""

import logging
from typing import Any

from channels.db import database_sync_to_async

from . import conf
from .exceptions import Forbidden

logger = logging.getLogger(__name__)


def permission_policy(user: Any, action: str, route: str, key: str | None) -> bool:
    """The default: staff may do anything; others need the permission ``PERMISSIONS`` names.

    Anonymous users (only ever here when ``ALLOW_ANONYMOUS`` is on, i.e. development) may do
    anything too. Per-instance rules (owners, teams) belong in a policy of your own.
    """
    if not user.is_authenticated:
        return bool(conf.get("ALLOW_ANONYMOUS"))
    if user.is_staff:
        return bool(user.is_active)
    permissions = conf.get("PERMISSIONS")
    name = f"{route}.{action}"
    if name not in permissions:
        logger.warning("No REALTIME['PERMISSIONS'] entry for %r: refused", name)
        return False
    permission = permissions[name]
    return permission is None or user.has_perm(permission)


def check(user: Any, action: str, route: str, key: str | None = None) -> None:
    """Raise Forbidden unless the configured policy allows ``action`` (in a worker thread)."""
    if not conf.policy()(user, action, route, key):
        what = f"{action} {route}" + (f" {key!r}" if key is not None else "")
        raise Forbidden(f"Not allowed to {what}: ask an administrator for the permission.")


async def require(user: Any, action: str, route: str, key: str | None = None) -> None:
    """Raise Forbidden unless the policy allows ``action`` (from async code)."""
    await database_sync_to_async(check)(user, action, route, key)
