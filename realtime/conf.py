"""The only reader of the ``REALTIME`` settings dict; values are read lazily and reset on change."""

import logging
from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    # Dotted path to the store (see realtime.store.RunStore); None: nothing recorded.
    "STORE": None,
    # Alias in CHANNEL_LAYERS that carries broadcasts and control messages.
    "CHANNEL_LAYER": "default",
    # Origins allowed on both transports; "*" allows any (never in production).
    "ALLOWED_ORIGINS": [],
    # Largest client frame accepted, in bytes (UTF-8 text).
    "MAX_MESSAGE_BYTES": 64 * 1024,
    # Engine.IO heartbeat of socket.io connections: a ping every PING_INTERVAL seconds; a
    # client that has not answered PING_TIMEOUT seconds after one is gone (and the client
    # gives up on a server silent for both). Whole seconds: python-engineio tells clients
    # int(seconds). python-engineio's and socket.io's defaults.
    "PING_INTERVAL": 25.0,
    "PING_TIMEOUT": 20.0,
    # How long a get_uia waits for any agent to acknowledge before telling the asker none is there.
    "AGENT_ACK_TIMEOUT": 2.0,
    # Frames queued per connection before the oldest replaceable ones are dropped.
    "SEND_QUEUE_SIZE": 256,
    # Re-add this process's hub channel to its groups this often (channels-redis expires members).
    "GROUP_REFRESH_SECONDS": 3600.0,
    # Prefix of every group this app creates in the channel layer.
    "GROUP_PREFIX": "realtime",
    # -- no update lost (realtime.recovery) -------------------------------------------------
    # Redis that keeps recent broadcasts and socket.io sessions for connection-state
    # recovery across server processes; None: kept in this process only (embedded default).
    "RECOVERY_REDIS_URL": None,
    # How long a disconnected socket.io session can come back and get what it missed.
    "RECOVERY_WINDOW_SECONDS": 120.0,
    # Broadcasts kept per route for recovery (a capped Redis stream).
    "RECOVERY_MAX_PACKETS": 10_000,
    # Most updates one resume replays from the store before answering with a snapshot.
    "RESUME_MAX_EVENTS": 1_000,
    # -- who may connect (realtime.auth, realtime.policy) --------------------------------
    # Let clients without a session or token in; None: follow settings.DEBUG (off in production).
    "ALLOW_ANONYMOUS": None,
    # Lifetime in seconds of tokens from the token endpoint (realtime_token --max-age overrides).
    "TOKEN_MAX_AGE": 3600,
    # Dotted path of the policy callable (user, action, route, key) -> bool; see realtime.policy.
    "POLICY": "realtime.policy.permission_policy",
    # "<route>.<action>" -> Django permission the default policy asks for (None: any signed-in
    # user). Actions: follow (receive a route or one key), control (debug signs, step_debug),
    # request (ask agents for a uia pick), agent (connect with role=agent). Staff pass all.
    "PERMISSIONS": {
        "running_logger.follow": "orderlines.view_processinstance",
        "running_logger.control": "orderlines.debug_processinstance",
        "uia.follow": "orderlines.view_process",
        "uia.request": "orderlines.view_process",
        "uia.agent": "orderlines.uia_agent",
    },
    # -- input limits (realtime.limits) --------------------------------------------------
    # Client messages per second per connection (token bucket rate) and the burst allowed.
    "MAX_MESSAGES_PER_SECOND": 20.0,
    "MESSAGE_BURST": 40,
    # Messages refused in a row for the rate limit before the connection is closed (a flood).
    "FLOOD_TOLERANCE": 40,
    # Open connections per client address per server process; 0: no limit.
    "MAX_CONNECTIONS_PER_ADDRESS": 100,
    # Let WebSockets negotiate permessage-deflate when the server offers it (uvicorn does by
    # default). Off: the application declines it (realtime.compression), so a broadcast's
    # frame is written once for every connection instead of compressed per connection.
    "WEBSOCKET_COMPRESSION": False,
    # -- slow clients (realtime.outbox) ---------------------------------------------------
    # Event topics whose queued frame a newer frame of the same key replaces (full states).
    "LATEST_ONLY_TOPICS": ["running_logger"],
    # Bytes the ASGI server may hold unsent for one WebSocket before sends wait (daphne).
    "SEND_BUFFER_BYTES": 256 * 1024,
    # A connection whose sends have not progressed for this long while frames wait is closed.
    "STUCK_CLIENT_SECONDS": 30.0,
    # -- graceful shutdown (realtime.shutdown) ---------------------------------------------
    # On SIGTERM: close every connection (WebSocket 1012, socket.io transport close so
    # clients reconnect elsewhere) and wait at most this long for queued frames and publishes.
    "SHUTDOWN_TIMEOUT": 10.0,
    # Install the SIGTERM hook when the first hub starts (main thread only).
    "SHUTDOWN_ON_SIGTERM": True,
    # -- garbage collector (realtime.collector) -----------------------------------------
    # gc.set_threshold() for server processes, which hold ~200 long-lived objects per open
    # connection; objects built at startup are frozen too. None: Python's defaults, untouched.
    # Why these: see realtime.collector.
    "GC_THRESHOLDS": (2_000, 10, 100),
    # Keep uvicorn's INFO lines for every WebSocket accepted and opened (two per connection);
    # off, they are dropped (realtime.logfilters.QuietConnections).
    "LOG_CONNECTIONS": False,
}


@cache
def _resolved() -> dict[str, Any]:
    user = getattr(settings, "REALTIME", {}) or {}
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        raise ImproperlyConfigured(
            f"Unknown key(s) {unknown} in settings.REALTIME; known keys are {sorted(DEFAULTS)}."
        )
    return {**DEFAULTS, **user}


def get(name: str) -> Any:
    """Return the value of one ``REALTIME`` option (user value or default)."""
    value = _resolved()[name]
    if name == "ALLOW_ANONYMOUS" and value is None:
        return bool(settings.DEBUG)
    return value


@cache
def store() -> Any:
    """Return the configured store instance, or None when ``REALTIME['STORE']`` is unset."""
    path = get("STORE")
    if not path:
        return None
    try:
        return import_string(path)()
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"settings.REALTIME['STORE'] = {path!r} cannot be imported: {exc}"
        ) from exc


@cache
def policy() -> Any:
    """Return the authorization callable named by ``REALTIME['POLICY']``."""
    path = get("POLICY")
    try:
        return import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"settings.REALTIME['POLICY'] = {path!r} cannot be imported: {exc}"
        ) from exc


def channel_layer() -> Any:
    """Return the channel layer named by ``REALTIME['CHANNEL_LAYER']``."""
    from channels.layers import get_channel_layer

    alias = get("CHANNEL_LAYER")
    layer = get_channel_layer(alias)
    if layer is None:
        raise ImproperlyConfigured(
            f"No channel layer {alias!r}: add it to settings.CHANNEL_LAYERS "
            "or set settings.REALTIME['CHANNEL_LAYER'] to an existing alias."
        )
    return layer


@receiver(setting_changed)
def _reset(setting: str, **kwargs: Any) -> None:
    if setting in {"REALTIME", "CHANNEL_LAYERS", "DEBUG"}:
        _resolved.cache_clear()
        store.cache_clear()
        policy.cache_clear()
