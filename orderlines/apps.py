"""App configuration of the process domain."""

import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class OrderlinesConfig(AppConfig):
    """Processes, their runs, task runs and running logs."""

    name = "orderlines"
    verbose_name = "Orderlines"
    default_auto_field = "django.db.models.BigAutoField"
