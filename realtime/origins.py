"""The one origin policy of both transports, from ``REALTIME['ALLOWED_ORIGINS']``."""

import logging
from urllib.parse import urlsplit

from . import conf

logger = logging.getLogger(__name__)


def _normalise(origin: str) -> str:
    parts = urlsplit(origin.strip().lower())
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    port = parts.port
    netloc = parts.hostname or ""
    if port is not None and port != default_port:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}"


def is_allowed(origin: str | None) -> bool:
    """True if a browser page from ``origin`` may connect; clients that send none are allowed.

    Non-browser clients (agents, runners, scripts) send no Origin header; authentication,
    not the origin, is what keeps them out.
    """
    if origin is None or origin == "":
        return True
    allowed = conf.get("ALLOWED_ORIGINS")
    if "*" in allowed:
        return True
    try:
        return _normalise(origin) in {_normalise(item) for item in allowed}
    except ValueError:
        logger.info("Refused a malformed Origin header %r", origin)
        return False
