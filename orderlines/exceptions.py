"""One exception hierarchy for the process domain; each leaf also inherits the expected built-in."""

import logging

logger = logging.getLogger(__name__)


class OrderlinesError(Exception):
    """Base of every error raised by the process domain."""


class GraphError(OrderlinesError, ValueError):
    """A process graph cannot be run as drawn; the message names the node or edge at fault."""


class TaskError(OrderlinesError, RuntimeError):
    """A task node could not run (unknown task, bad parameters, or the task itself failed)."""


class RunError(OrderlinesError, RuntimeError):
    """A run cannot start (e.g. its process_instance_id is already in use)."""


class AppendOnlyError(OrderlinesError, PermissionError):
    """Running logs are append-only: an existing row may not be changed or deleted."""
