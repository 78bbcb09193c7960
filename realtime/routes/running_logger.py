"""The running_logger route: live progress of process instances and debug control."""

import logging
from typing import Any

from .. import control
from .base import Route

logger = logging.getLogger(__name__)


class RunningLoggerRoute(Route):
    """Progress updates out; process start, step_debug and debug signs in."""

    name = "running_logger"
    key_field = "process_instance_id"
    handlers = {
        ("running_logger", "process start"): "process_start",
        ("running_logger", "step_debug"): "step_debug",
        ("debug_sign", "debug continue"): "debug_sign",
        ("debug_sign", "debug stop"): "debug_sign",
    }
    actions = {"process_start": "follow", "step_debug": "control", "debug_sign": "control"}

    async def process_start(self, session: Any, data: dict[str, Any]) -> None:
        """The instance's current state now, then its updates with no gap or duplicate.

        A narrowed connection adds the instance to what it follows; one that follows the
        whole route keeps doing so.
        """
        key = self.key_of(data)
        if session.keys is None:
            await session.show_state(key)
        else:
            await session.follow(key)

    async def step_debug(self, session: Any, data: dict[str, Any]) -> None:
        """Follow the debug run (it may not exist yet) and tell its runner."""
        key = self.key_of(data)
        await session.follow(key, state=False)
        await control.asend(key, self._command(key, data))

    async def debug_sign(self, session: Any, data: dict[str, Any]) -> None:
        """Record a continue/stop and wake the instance's runner, wherever it runs."""
        await control.adebug_sign(self.key_of(data), data["msg"], route=self.name)

    def _command(self, key: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"topic": data["topic"], "msg": data["msg"], self.key_field: key}
