"""``manage.py prune_running_logs``: delete running logs older than the retention period."""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from orderlines.models import RunningLog

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    """Retention for RunningLog (the store realtime resumes from)."""

    help = "Delete RunningLog rows older than --days (default: RUNNING_LOG_RETENTION_DAYS)."

    def add_arguments(self, parser: Any) -> None:
        """--days and --dry-run."""
        parser.add_argument("--days", type=float, default=None)
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        """Delete (or count) and report how many rows."""
        days = options["days"]
        if days is None:
            days = settings.RUNNING_LOG_RETENTION_DAYS
        if days < 0:
            raise CommandError("--days must be zero or more.")
        cutoff = timezone.now() - timedelta(days=days)
        if options["dry_run"]:
            count = RunningLog.objects.filter(created_at__lt=cutoff).count()
            self.stdout.write(
                f"would delete {count} running log rows older than {cutoff:%Y-%m-%d %H:%M}"
            )
            return
        count = RunningLog.objects.prune(cutoff)
        self.stdout.write(f"deleted {count} running log rows older than {cutoff:%Y-%m-%d %H:%M}")
