"""Control messages (debug continue/stop, step_debug) from clients to the runner of an instance.

A runner may live in any OS process; it listens on the instance's control group through the
channel layer. Control messages are not buffered for a runner that is not listening: the
route records debug signs in the store first, so a runner that polls its records finds them.
"""

import asyncio
import logging
import queue
import threading
from typing import Any

from . import bridge, conf, groups, records

logger = logging.getLogger(__name__)

CONTROL = "realtime.control"


async def asend(key: str, command: dict[str, Any]) -> None:
    """Deliver ``command`` to whatever runner listens for instance ``key``."""
    await conf.channel_layer().group_send(
        groups.control_group(key), {"type": CONTROL, "key": key, "command": command}
    )


async def adebug_sign(key: str, msg: str, route: str = "running_logger") -> dict[str, Any]:
    """Record a debug sign (``debug continue`` / ``debug stop``) for ``key`` and wake its runner.

    Recorded first, so a runner that was not listening at this moment still finds it. This is
    the one path for debug signs: client messages and admin actions both come through here.
    """
    command = {"topic": "debug_sign", "msg": msg, "process_instance_id": key}
    await records.record(route, key, "debug_sign", command)
    await asend(key, command)
    return command


def debug_sign(key: str, msg: str) -> dict[str, Any]:
    """Synchronous form of ``adebug_sign`` (views, admin actions, scripts)."""
    return bridge.run_sync(adebug_sign, key, msg)


class ControlListener:
    """Receives the control messages of one instance; a synchronous API for runner threads.

    Use as a context manager around the whole run, so nothing sent while the runner is busy
    between breakpoints is missed::

        with ControlListener(instance_id) as control:
            command = control.get(timeout=1.0)   # dict or None
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self._commands: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> "ControlListener":
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> None:
        """Subscribe, and return once the subscription is in place."""
        home = bridge.home_loop()
        if home is not None:
            # In a server process: listen on its loop (the in-memory layer needs that).
            asyncio.run_coroutine_threadsafe(self._listen(), home)
        else:
            self._thread = threading.Thread(
                target=lambda: asyncio.run(self._listen()), name=f"control-{self.key}", daemon=True
            )
            self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"Could not subscribe to control messages of {self.key!r}")
        if self._error is not None:
            raise self._error

    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next control command, or None after ``timeout`` seconds."""
        try:
            return self._commands.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self) -> None:
        """Unsubscribe and end the listening task."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=5)

    async def _listen(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        layer, group = conf.channel_layer(), groups.control_group(self.key)
        try:
            channel = await layer.new_channel("realtime")
            await layer.group_add(group, channel)
        except Exception as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await self._receive_until(layer, channel, stopping)
        finally:
            stopping.cancel()
            try:
                await layer.group_discard(group, channel)
            except Exception:
                logger.warning("Could not leave control group %s", group, exc_info=True)

    async def _receive_until(self, layer: Any, channel: str, stopping: asyncio.Future) -> None:
        while not stopping.done():
            receiving = asyncio.ensure_future(layer.receive(channel))
            await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                receiving.cancel()
                break
            try:
                message = receiving.result()
            except Exception:
                logger.warning("Control receive failed; retrying", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if message.get("type") == CONTROL:
                self._commands.put(message["command"])
