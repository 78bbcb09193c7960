"""App configuration: registers system checks and the settings-reset hook."""

import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class RealtimeConfig(AppConfig):
    """The realtime app."""

    name = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        """Wire checks and settings signals; nothing here touches Redis or the database."""
        from . import checks, conf  # noqa: F401  (import registers them)
