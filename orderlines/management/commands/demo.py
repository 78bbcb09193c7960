"""``manage.py demo``: migrate, serve, and run the demo process in a loop for people to watch."""

import logging
import socket
import threading
import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    """The main job on the embedded default (SQLite, in-memory channel layer)."""

    help = "Serve on HOST:PORT (runserver, i.e. daphne) and run the demo process every few seconds."

    def add_arguments(self, parser: Any) -> None:
        """Address, pause between runs and step delay."""
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--pause", type=float, default=3.0, help="seconds between runs")
        parser.add_argument("--step-delay", type=float, default=0.6)
        parser.add_argument("--runs", type=int, default=0, help="stop after N runs (0: forever)")

    def handle(self, *args: Any, **options: Any) -> None:
        """Migrate, start the demo loop in a thread, then serve in this thread."""
        call_command("migrate", verbosity=0)
        host, port = options["addr"].rsplit(":", 1)
        self.stdout.write(f"Watch the runs at http://{host}:{port}/ (admin at /admin/)")
        loop = threading.Thread(
            target=self._run_demos, args=(host, int(port), options), daemon=True
        )
        loop.start()
        call_command("runserver", options["addr"], use_reloader=False)

    def _run_demos(self, host: str, port: int, options: dict[str, Any]) -> None:
        from orderlines.models import Process
        from orderlines.runner import run_process

        _wait_for_port(host, port)
        done = 0
        while options["runs"] == 0 or done < options["runs"]:
            instance = run_process(
                Process.objects.get(name="demo"), step_delay=options["step_delay"]
            )
            self.stdout.write(f"{instance.process_instance_id}: {instance.status}")
            done += 1
            time.sleep(options["pause"])


def _wait_for_port(host: str, port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
