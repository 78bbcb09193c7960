"""Print a realtime token for a user: for picker agents, runners and scripts."""

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from realtime.auth import issue_token

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    """``realtime_token USERNAME [--max-age SECONDS]``."""

    help = "Print a signed, expiring token that authenticates USERNAME on both transports."

    def add_arguments(self, parser: Any) -> None:
        """Username and lifetime."""
        parser.add_argument("username")
        parser.add_argument(
            "--max-age",
            type=int,
            default=None,
            help="lifetime in seconds (default: REALTIME['TOKEN_MAX_AGE'])",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Look the user up and print only the token (easy to capture in a script)."""
        model = get_user_model()
        try:
            user = model._default_manager.get_by_natural_key(options["username"])
        except model.DoesNotExist:
            raise CommandError(f"No user {options['username']!r}.")
        if not user.is_active:
            raise CommandError(f"User {options['username']!r} is inactive.")
        if options["max_age"] is not None and options["max_age"] <= 0:
            raise CommandError("--max-age must be positive.")
        self.stdout.write(issue_token(user, options["max_age"]))
