"""A WebSocket's read loop, run at the top of the ASGI stack so the layers beneath can return.

Why: an ASGI connection lives as long as its application coroutine, and every layer between
the server and the innermost ``await receive()`` stays suspended with it: for a socket.io
connection that is the Engine.IO filter, python-socketio's and python-engineio's ASGI apps,
the request handler, the connect and upgrade handlers and the driver, each frame holding its
locals (the parsed query string among them). Measured with tracemalloc over idle socket.io
clients on uvicorn, those frames and what only they referenced were about 3 KiB per
connection. Once the handshake is done none of them has anything left to do.

So the outermost layer (``SendGuard``) leaves a ``LoopSlot`` in the scope; the innermost
layer, once the connection is established, parks its read loop there and returns, the
layers unwind, and the outermost awaits the parked loop in their place. Nothing between
them runs code after the handshake, so nothing is skipped: the connection's lifetime, its
cancellation (a server shutdown cancels the same task) and its end are as before.
"""

from collections.abc import Coroutine
from typing import Any

# Scope key of the connection's LoopSlot (absent outside our ASGI stack: run the loop inline).
PARKED_LOOP = "realtime.parked_loop"


class LoopSlot:
    """Holds at most one parked read loop until the outermost layer takes it."""

    __slots__ = ("_loop",)

    def __init__(self) -> None:
        self._loop: Coroutine[Any, Any, Any] | None = None

    def park(self, loop: Coroutine[Any, Any, Any]) -> None:
        """Leave ``loop`` for the outermost layer to await once the layers beneath return."""
        if self._loop is not None:
            loop.close()
            raise RuntimeError("a read loop is already parked for this connection")
        self._loop = loop

    def take(self) -> Coroutine[Any, Any, Any] | None:
        """The parked loop, for the caller to await (not wrapped: one frame less), or None."""
        loop, self._loop = self._loop, None
        return loop


async def run_or_park(scope: dict, loop: Coroutine[Any, Any, Any]) -> None:
    """Park ``loop`` if the stack offers a slot, else await it here."""
    slot = scope.get(PARKED_LOOP)
    if slot is None:
        await loop
    else:
        slot.park(loop)
