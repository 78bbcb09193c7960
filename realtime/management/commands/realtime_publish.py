"""Publish one event from the command line (operators, scripts, tests): the publish API's CLI."""

import json
import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from realtime import publish
from realtime.exceptions import RealtimeError

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    """``realtime_publish ROUTE TOPIC MESSAGE_JSON [--key ID]``."""

    help = "Publish one event on a realtime route, as any process would through realtime.publish."

    def add_arguments(self, parser: Any) -> None:
        """Route, topic, JSON message, optional key."""
        parser.add_argument("route", help="running_logger or uia")
        parser.add_argument("topic", help="e.g. running_logger, debug_message, uia")
        parser.add_argument("message", help="the message as JSON")
        parser.add_argument(
            "--key", help="process_instance_id (running_logger) or process_id (uia)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Publish and print the sequence number the store gave it."""
        try:
            message = json.loads(options["message"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"MESSAGE is not valid JSON: {exc}") from exc
        try:
            seq = publish.publish(options["route"], options["topic"], message, key=options["key"])
        except RealtimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"published seq={seq}")
