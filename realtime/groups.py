"""Names of channel-layer groups, always valid under Channels' rules whatever the ids."""

import hashlib
import re
import sys

from . import conf

# Channels accepts ASCII letters, digits, hyphen, underscore and period, under 100 characters.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_\-.]{1,64}$")
_VALID_GROUP = re.compile(r"^[A-Za-z0-9_\-.]{1,99}$")


def _token(identifier: str) -> str:
    """Map any id to a safe token; ids that are not safe as-is get a digest (prefix h)."""
    if _SAFE_ID.match(identifier):
        return "k" + identifier
    return "h" + hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:40]


def _name(*parts: str) -> str:
    name = ".".join((conf.get("GROUP_PREFIX"), *parts))
    if not _VALID_GROUP.match(name):
        raise ValueError(
            f"Group name {name!r} is not valid for Channels; "
            "shorten settings.REALTIME['GROUP_PREFIX']."
        )
    # Interned: every session keeps the names of its groups, and thousands follow the same
    # route; one string each instead of one per connection (76 bytes).
    return sys.intern(name)


def route_group(route: str) -> str:
    """The group every broadcast of ``route`` goes to."""
    return _name(route, "all")


def key_group(route: str, key: str) -> str:
    """The group of one process instance (or process) on ``route``."""
    return _name(route, "key", _token(key))


def agents_group() -> str:
    """The group of this deployment's connected UI-automation picker agents."""
    return _name("uia", "agents")


def control_group(key: str) -> str:
    """The group a runner of process instance ``key`` listens on for debug signs."""
    return _name("control", _token(key))
