"""System checks for the realtime settings; each names the setting to change."""

import logging
from typing import Any

from django.conf import settings
from django.core import checks

from . import conf
from .exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)


@checks.register("realtime")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Validate ``REALTIME`` and the channel layer it uses."""
    errors: list[checks.CheckMessage] = []
    try:
        conf.get("STORE")
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="realtime.E001")]
    try:
        conf.store()
    except ImproperlyConfigured as exc:
        errors.append(
            checks.Error(str(exc), hint="Point it at a RunStore class.", id="realtime.E002")
        )
    alias = conf.get("CHANNEL_LAYER")
    backend = getattr(settings, "CHANNEL_LAYERS", {}).get(alias, {}).get("BACKEND", "")
    if not backend:
        errors.append(
            checks.Error(
                f"settings.CHANNEL_LAYERS has no {alias!r} layer.",
                hint="Add it, or set settings.REALTIME['CHANNEL_LAYER'] to an existing alias.",
                id="realtime.E003",
            )
        )
    elif backend.endswith("InMemoryChannelLayer") and not settings.DEBUG:
        errors.append(
            checks.Warning(
                "The in-memory channel layer reaches only clients of this one process.",
                hint="Set REDIS_URL (settings.CHANNEL_LAYERS) for several processes or runners.",
                id="realtime.W001",
            )
        )
    if "*" in conf.get("ALLOWED_ORIGINS"):
        errors.append(
            checks.Warning(
                "settings.REALTIME['ALLOWED_ORIGINS'] allows any origin.",
                hint="List the front end's origins (REALTIME_ALLOWED_ORIGINS).",
                id="realtime.W002",
            )
        )
    return errors
