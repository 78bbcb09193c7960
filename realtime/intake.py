"""A WebSocket's next ASGI event, taken straight from the server's receive queue.

Why: an idle connection spends its life waiting for its client's next frame, and every
coroutine in that wait keeps its frame for as long as it lasts. Through the ASGI ``receive``
of uvicorn that is ``receive`` itself and the queue's ``get`` under the reader's own loop:
0.4 KiB per idle socket.io connection (tracemalloc, 2,000 clients). Once the accept has
made the server's queue a LeanQueue (realtime.slimming), the reader can instead take
events from that queue itself and, while it is empty, await a bare Future
(``LeanQueue.item_ready``), doing after each take what the server's ``receive`` does.

Only for servers we know and while their queue is a LeanQueue; otherwise the reader awaits
the ASGI ``receive`` as before (``ReceiveIntake``). Either way, one loop reads them:

    while (event := intake.poll()) is None:
        await intake.wait()
"""

from collections.abc import Awaitable
from typing import Any

from .queues import LeanQueue
from .slimming import FollowingReceive


class QueueIntake:
    """Events from the LeanQueue a server protocol reads its connection into."""

    __slots__ = ("_queue", "_resumes")

    def __init__(self, queue: LeanQueue, resumes: Any = None) -> None:
        # The queue is final: the accept swapped it in (realtime.slimming) before this.
        self._queue = queue
        # uvicorn pauses reading after each message it queues; its ``receive`` resumes
        # reading once the queue is empty, and so must whoever reads the queue instead:
        # ``resumes`` is that protocol (None for daphne, which never pauses).
        self._resumes = resumes

    def poll(self) -> dict | None:
        """The next event if one is waiting, else None."""
        queue = self._queue
        if queue.empty():
            return None
        event = queue.get_nowait()
        protocol = self._resumes
        if protocol is not None and protocol.read_paused and queue.empty():
            protocol.read_paused = False
            protocol.transport.resume_reading()
        return event

    def wait(self) -> Awaitable[None]:
        """Done once an event waits (poll then): a Future, no coroutine."""
        return self._queue.item_ready()


class ReceiveIntake:
    """Events from an ASGI ``receive``, for servers whose queue we do not know."""

    __slots__ = ("_event", "_receive")

    def __init__(self, receive: Any) -> None:
        self._receive = receive
        self._event: dict | None = None

    def poll(self) -> dict | None:
        """The event the last ``wait`` received, once."""
        event, self._event = self._event, None
        return event

    async def wait(self) -> None:
        """Receive the next event, for ``poll``."""
        self._event = await self._receive()


def intake(receive: Any) -> QueueIntake | ReceiveIntake:
    """The best way to read the connection behind ``receive`` (the one SendGuard passed on).

    Call it after the accept: the server's queue is a LeanQueue only from then on.
    """
    protocol = getattr(receive, "__self__", None)  # uvicorn: its protocol's bound receive
    if (
        protocol is not None
        and type(getattr(protocol, "queue", None)) is LeanQueue
        and hasattr(protocol, "read_paused")
        and getattr(type(protocol), "receive", None) is getattr(receive, "__func__", None)
    ):
        return QueueIntake(protocol.queue, resumes=protocol)
    if isinstance(receive, FollowingReceive):  # daphne, reading whatever queue it has now
        queue = getattr(receive.protocol, "application_queue", None)
        if type(queue) is LeanQueue:
            return QueueIntake(queue)
    return ReceiveIntake(receive)
