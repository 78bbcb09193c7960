"""A bounded per-connection send queue, drained by one writer task per connection.

Why: the hub hands a frame to every local connection without awaiting any of them, so one
client that stops reading delays only itself and holds at most ``SEND_QUEUE_SIZE`` frames.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)


class Outbox:
    """Frames waiting for one connection; the oldest are dropped when it is full."""

    def __init__(self, send: Callable[[Any], Awaitable[None]], maxsize: int) -> None:
        self._send = send
        self._maxsize = maxsize
        self._frames: deque[Any] = deque()
        self._ready = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self.dropped = 0

    def start(self) -> None:
        """Start the writer task (once the transport can send)."""
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    def push(self, frame: Any) -> None:
        """Queue one frame without waiting; never raises."""
        if len(self._frames) >= self._maxsize:
            self._frames.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("Slow client: %d frame(s) dropped so far", self.dropped)
        self._frames.append(frame)
        self._ready.set()

    async def _drain(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._frames:
                frame = self._frames.popleft()
                try:
                    await self._send(frame)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The transport is gone; its disconnect handler will close us.
                    logger.debug("Send failed; dropping the rest of this outbox", exc_info=True)
                    self._frames.clear()
                    return

    async def close(self) -> None:
        """Stop the writer; queued frames are discarded."""
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except (asyncio.CancelledError, Exception):
                pass
            self._writer = None
        self._frames.clear()
