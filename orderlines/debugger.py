"""Breakpoints of a debug run: waiting for "debug continue" / "debug stop" from the user.

A sign reaches the runner two ways, and either is enough: on the instance's control channel
(``realtime.control``), and as a ``debug_sign`` row the route records in RunningLog before it
sends. The channel is fast; the poll of RunningLog catches signs sent while the listener was
not subscribed or when the channel layer dropped them (control messages are not buffered).
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from realtime.control import ControlListener

from .models import ProcessInstance, RunningLog

logger = logging.getLogger(__name__)

CONTINUE, STOP = "debug continue", "debug stop"
SIGN_TOPIC = "debug_sign"
# How often a paused runner polls RunningLog for signs the channel did not bring.
POLL_SECONDS = 0.5


class Debugger:
    """Reads debug signs for one instance from its control listener and its RunningLog."""

    def __init__(self, instance: ProcessInstance, listener: ControlListener | None) -> None:
        self.instance_pk = instance.pk
        self.listener = listener
        # Signs recorded up to this seq are consumed (or were meant for an earlier pause).
        self.cursor = instance.log_seq

    def stop_requested(self) -> bool:
        """Consume signs that arrived while running; True if one of them was a stop.

        A continue found here answered an earlier breakpoint (e.g. the channel copy of a sign
        already read from RunningLog), so it is dropped rather than skipping the next one.
        """
        signs = self._drain_channel() + self._recorded_signs()
        return STOP in signs

    def wait(self, after_seq: int) -> str:
        """Block until a sign newer than ``after_seq`` (the pause's own log seq); return it."""
        self.cursor = max(self.cursor, after_seq)
        while True:
            sign = _sign_of(self._next_command(POLL_SECONDS))
            if sign:
                logger.info("Debug sign %r on the control channel", sign)
                return sign
            recorded = self._recorded_signs()
            if recorded:
                logger.info("Debug sign %r found in the running log", recorded[0])
                return recorded[0]

    def _next_command(self, timeout: float) -> dict[str, Any] | None:
        if self.listener is None:
            time.sleep(timeout)
            return None
        return self.listener.get(timeout=timeout)

    def _drain_channel(self) -> list[str]:
        signs: list[str] = []
        if self.listener is None:
            return signs
        while (command := self.listener.get(timeout=0)) is not None:
            sign = _sign_of(command)
            if sign:
                signs.append(sign)
        return signs

    def _recorded_signs(self) -> list[str]:
        rows = list(
            RunningLog.objects.filter(
                instance_id=self.instance_pk, topic=SIGN_TOPIC, seq__gt=self.cursor
            )
            .order_by("seq")
            .values_list("seq", "payload")
        )
        if rows:
            self.cursor = rows[-1][0]
        return [sign for _, payload in rows if (sign := _sign_of(payload))]


def _sign_of(command: Any) -> str | None:
    """The continue/stop a command carries; None for anything else (e.g. step_debug)."""
    if not isinstance(command, dict) or command.get("topic") != SIGN_TOPIC:
        if command is not None:
            logger.debug("Ignoring control command %r", command)
        return None
    msg = command.get("msg")
    return msg if msg in (CONTINUE, STOP) else None


@contextmanager
def debug_session(instance: ProcessInstance) -> Iterator[Debugger]:
    """A Debugger listening on the instance's control channel for the whole run.

    If the channel layer cannot be reached, the run still works: signs are then read from
    RunningLog only (a warning is logged).
    """
    listener: ControlListener | None = ControlListener(instance.process_instance_id)
    try:
        listener.start()
    except Exception:
        logger.warning(
            "Control channel unavailable for %s; polling the running log only",
            instance.process_instance_id,
            exc_info=True,
        )
        listener = None
    try:
        yield Debugger(instance, listener)
    finally:
        if listener is not None:
            listener.stop()
