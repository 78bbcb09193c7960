"""Built-in tasks a process node can name in ``properties.task``, and how a node's task is found.

A task is any callable ``task(params, context) -> result``: ``params`` is the node's
``properties.params`` dict, ``context`` a :class:`TaskContext`; the JSON-serialisable return
value is stored as the task instance's result. A node may instead name any such callable by
dotted path in ``properties.callable``.
"""

import json
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.module_loading import import_string

from .exceptions import TaskError

logger = logging.getLogger(__name__)

Task = Callable[[dict[str, Any], "TaskContext"], Any]

# A wait longer than this is almost certainly a typo (ms for s); refuse it rather than hang.
MAX_WAIT_SECONDS = 3600.0


@dataclass
class TaskContext:
    """What a task may know about its run: ids, run params, and earlier tasks' results."""

    process_instance_id: str
    node_id: str
    task_name: str
    run_params: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    logger: logging.Logger = logger


def wait(params: dict[str, Any], context: TaskContext) -> dict[str, float]:
    """Sleep ``params["seconds"]`` seconds (default 1)."""
    seconds = params.get("seconds", 1)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TaskError(f"wait: 'seconds' must be a number, got {seconds!r}.")
    if not 0 <= seconds <= MAX_WAIT_SECONDS:
        raise TaskError(
            f"wait: 'seconds' must be between 0 and {MAX_WAIT_SECONDS:g}, got {seconds}."
        )
    time.sleep(seconds)
    return {"waited": float(seconds)}


def log(params: dict[str, Any], context: TaskContext) -> dict[str, str]:
    """Write ``params["message"]`` to the runner's log and keep it as the result."""
    message = str(params.get("message", ""))
    context.logger.info("[%s %s] %s", context.process_instance_id, context.node_id, message)
    return {"message": message}


def fail(params: dict[str, Any], context: TaskContext) -> None:
    """Fail on purpose with ``params["message"]`` (for testing error handling)."""
    raise TaskError(str(params.get("message") or f"Task {context.task_name!r} failed on purpose."))


BUILTIN_TASKS: dict[str, Task] = {"wait": wait, "log": log, "fail": fail}


def resolve(properties: dict[str, Any]) -> Task | None:
    """The task a node runs: its ``callable`` path, else its built-in ``task``; None if neither."""
    path, name = properties.get("callable"), properties.get("task")
    if path:
        try:
            return import_string(str(path))
        except ImportError as exc:
            raise TaskError(f"Cannot import callable {path!r}: {exc}") from exc
    if not name:
        return None
    task = BUILTIN_TASKS.get(str(name))
    if task is None:
        known = ", ".join(sorted(BUILTIN_TASKS))
        raise TaskError(f"Unknown task {name!r}; built-in tasks are {known}, or set 'callable'.")
    return task


def jsonable(value: Any) -> Any:
    """``value`` if it can be stored as JSON, else its repr (a task may return anything)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return {"repr": repr(value)[:2000]}
    return value


def error_info(exc: BaseException) -> dict[str, Any]:
    """What a failure stores: type, message and the last frames of the traceback."""
    return {
        "type": type(exc).__name__,
        "message": str(exc) or type(exc).__name__,
        "traceback": "".join(traceback.format_exception(exc, limit=-5))[-4000:],
    }
