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
    # How long a get_uia waits for any agent to acknowledge before telling the asker none is there.
    "AGENT_ACK_TIMEOUT": 2.0,
    # Frames queued per connection before the oldest replaceable ones are dropped.
    "SEND_QUEUE_SIZE": 256,
    # Re-add this process's hub channel to its groups this often (channels-redis expires members).
    "GROUP_REFRESH_SECONDS": 3600.0,
    # Prefix of every group this app creates in the channel layer.
    "GROUP_PREFIX": "realtime",
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
    return _resolved()[name]


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
    if setting in {"REALTIME", "CHANNEL_LAYERS"}:
        _resolved.cache_clear()
        store.cache_clear()
