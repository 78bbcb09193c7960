"""How ``manage.py run_process`` reports a run: plain lines, a terminal progress bar, or JSON.

Plain mode is the contract scripts rely on: the first line is ``process_instance_id=ID``.
JSON mode prints one object per line (``event`` is ``start``, ``progress`` or ``end``).
"""

import json
import logging
import shutil
from typing import Any, TextIO

from .models import ProcessInstance

logger = logging.getLogger(__name__)

BAR_WIDTH = 24


class PlainOutput:
    """One line per state change; what a pipe or a log file gets."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def _line(self, text: str) -> None:
        self.stream.write(text)
        # Flushed per line: whoever started us follows the run while it goes.
        self.stream.flush()

    def start(self, instance_id: str) -> None:
        """Announce the instance id (always the first line)."""
        self._line(f"process_instance_id={instance_id}")

    def progress(self, instance: ProcessInstance, text: str) -> None:
        """Report one state change."""
        edges = ",".join(instance.running_edge) or "-"
        self._line(f"[{instance.task_progress:3d}%] {instance.status:<8} edges={edges} {text}")

    def end(self, instance: ProcessInstance) -> None:
        """The run has ended (its last state change was already reported)."""


class BarOutput(PlainOutput):
    """A progress bar redrawn in place, for a person at a terminal."""

    def progress(self, instance: ProcessInstance, text: str) -> None:
        """Redraw the bar with the latest state."""
        filled = BAR_WIDTH * instance.task_progress // 100
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        line = f"[{bar}] {instance.task_progress:3d}% {instance.status:<8} {text}"
        columns = shutil.get_terminal_size((100, 20)).columns
        # \r and "erase to end of line": redraw over the previous state, never wrap.
        self.stream.write(f"\r\x1b[K{line[: columns - 1]}", ending="")
        self.stream.flush()

    def end(self, instance: ProcessInstance) -> None:
        """Leave the final bar on screen and end its line."""
        self._line("")


class JsonOutput(PlainOutput):
    """One JSON object per line, for programs."""

    def _event(self, event: str, **fields: Any) -> None:
        self._line(json.dumps({"event": event, **fields}, ensure_ascii=False, sort_keys=True))

    def start(self, instance_id: str) -> None:
        """``{"event": "start", "process_instance_id": ID}``."""
        self._event("start", process_instance_id=instance_id)

    def progress(self, instance: ProcessInstance, text: str) -> None:
        """``{"event": "progress", ...}`` with status, task_progress, running_edge and text."""
        self._event(
            "progress",
            process_instance_id=instance.process_instance_id,
            status=instance.status,
            task_progress=instance.task_progress,
            running_edge=list(instance.running_edge),
            text=text,
        )

    def end(self, instance: ProcessInstance) -> None:
        """``{"event": "end", ...}`` with the final status, progress and error (or null)."""
        self._event(
            "end",
            process_instance_id=instance.process_instance_id,
            status=instance.status,
            task_progress=instance.task_progress,
            error=instance.error,
        )


def output_for(stream: TextIO, *, as_json: bool) -> PlainOutput:
    """JSON when asked; a bar on a terminal; plain lines otherwise."""
    if as_json:
        return JsonOutput(stream)
    isatty = getattr(stream, "isatty", None)
    return BarOutput(stream) if isatty is not None and isatty() else PlainOutput(stream)
