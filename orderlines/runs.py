"""Starting runs from a web request or an admin action: in a background thread of this process.

The pending instance is created before the thread starts, so the caller can hand its id to
the browser at once; the runner takes that pending instance over (see ``create_instance``).
"""

import logging
import threading
from typing import Any

from django.db import connection

from .models import Process, ProcessInstance
from .runner import run_process

logger = logging.getLogger(__name__)

# What the run monitor's start button and the admin's re-run use unless told otherwise:
# slow enough for a person to watch the edges move.
DEFAULT_STEP_DELAY = 0.6
# Bounds of a step delay a request may ask for (seconds).
MAX_STEP_DELAY = 5.0


def start_run(
    process: Process,
    *,
    step_delay: float = DEFAULT_STEP_DELAY,
    debug: bool = False,
    params: dict[str, Any] | None = None,
) -> ProcessInstance:
    """Create a pending instance of ``process``, run it in a daemon thread, return the instance."""
    instance = ProcessInstance.objects.create(
        process=process,
        mode=ProcessInstance.Mode.DEBUG if debug else ProcessInstance.Mode.NORMAL,
        params=dict(params or {}),
    )
    thread = threading.Thread(
        target=_run,
        args=(process, instance.process_instance_id, step_delay, debug),
        name=f"run-{instance.process_instance_id}",
        daemon=True,
    )
    thread.start()
    logger.info("Started %s of %s in a background thread", instance, process)
    return instance


def _run(process: Process, instance_id: str, step_delay: float, debug: bool) -> None:
    try:
        run_process(process, step_delay=step_delay, debug=debug, instance_id=instance_id)
    except Exception:
        # Nobody waits on this thread: the log is the only place the failure can go.
        logger.exception("Background run %s failed to run", instance_id)
    finally:
        # Each thread has its own database connection; don't leave it open.
        connection.close()


def parse_step_delay(raw: str | None, default: float = DEFAULT_STEP_DELAY) -> float:
    """A step delay from a request parameter, clamped to 0..MAX_STEP_DELAY; ``default`` if unset.

    Raises ValueError for text that is not a number.
    """
    if raw is None or raw.strip() == "":
        return default
    value = float(raw)
    if value != value:  # NaN compares unequal to itself and would slip through min/max
        raise ValueError("step_delay is not a number")
    return min(max(value, 0.0), MAX_STEP_DELAY)
