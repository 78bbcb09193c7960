"""``manage.py run_process NAME_OR_ID``: run a process in this process and print its progress."""

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from orderlines.exceptions import OrderlinesError
from orderlines.models import Process, ProcessInstance, new_instance_id
from orderlines.run_output import output_for
from orderlines.runner import run_process

logger = logging.getLogger(__name__)

# Exit statuses: a run that ended badly, and a command that could not start a run.
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2


class Command(BaseCommand):
    """Run a process by name or process_id; exit 0 on success, 1 on failure or stop."""

    help = (
        "Run a process to the end, printing process_instance_id=... first, then one line per "
        "state change (a progress bar on a terminal; --json: one JSON object per event). "
        "Exit status 0 on success, 1 on failure or stop, 2 if it cannot start."
    )

    def add_arguments(self, parser: Any) -> None:
        """NAME_OR_ID, --step-delay, --debug, --instance-id, --json."""
        parser.add_argument("process", metavar="NAME_OR_ID", help="process name or process_id")
        parser.add_argument(
            "--step-delay", type=float, default=0.2, help="seconds between steps (default 0.2)"
        )
        parser.add_argument("--debug", action="store_true", help="pause at breakpoints")
        parser.add_argument("--instance-id", help="process_instance_id to use (default: new)")
        parser.add_argument(
            "--json", action="store_true", help="print one JSON object per event (start, ...)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Find the process, announce the instance id, run, and map the outcome to the exit."""
        if options["step_delay"] < 0:
            raise CommandError("--step-delay must be 0 or more.", returncode=EXIT_USAGE)
        process = self._find(options["process"])
        instance_id = options["instance_id"] or new_instance_id()
        output = output_for(self.stdout, as_json=options["json"])
        # First, flushed now: whoever started us can follow the run while it goes.
        output.start(instance_id)
        try:
            instance = run_process(
                process,
                step_delay=options["step_delay"],
                debug=options["debug"],
                instance_id=instance_id,
                on_progress=output.progress,
            )
        except OrderlinesError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        output.end(instance)
        if instance.status != ProcessInstance.Status.SUCCESS:
            detail = (instance.error or {}).get("message", "")
            raise CommandError(
                f"Run {instance_id} ended {instance.status}" + (f": {detail}" if detail else "."),
                returncode=EXIT_RUN_FAILED,
            )

    def _find(self, name_or_id: str) -> Process:
        process = (
            Process.objects.filter(process_id=name_or_id).first()
            or Process.objects.filter(name=name_or_id).first()
        )
        if process is None:
            known = ", ".join(Process.objects.order_by("name").values_list("name", flat=True)[:20])
            raise CommandError(
                f"No process named or with process_id {name_or_id!r}. Known processes: "
                f"{known or 'none (run migrate to create the demo)'}.",
                returncode=EXIT_USAGE,
            )
        return process
