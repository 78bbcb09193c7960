"""The send queue of an Engine.IO socket: asyncio.Queue's behaviour at a fraction of its size.

Why: python-engineio gives every socket a queue (``AsyncServer.create_queue``), and
``asyncio.Queue()`` allocates three deques and an Event (a fourth deque) up front, 760 bytes
each on Python 3.11: about 3 KiB of every idle connection (tracemalloc, 2,000 socket.io
clients), for a queue that holds a ping now and then. ``SocketQueue`` keeps the same
unbounded-queue contract (FIFO, ``get`` waits, ``join`` waits for a ``task_done`` per item,
cancelled getters lose nothing) with lists, and a list of join waiters made only while
someone joins.
"""

import asyncio
from typing import Any


class SocketQueue:
    """An unbounded FIFO queue with asyncio.Queue's methods (no maxsize)."""

    __slots__ = ("_getters", "_items", "_joiners", "_unfinished_tasks")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getters: list[asyncio.Future[None]] = []  # an idle socket's writer waits here
        self._joiners: list[asyncio.Future[None]] | None = None
        # Named as asyncio.Queue names it: the direct path reads it (EngineIODirect).
        self._unfinished_tasks = 0

    def qsize(self) -> int:
        """Items waiting."""
        return len(self._items)

    def empty(self) -> bool:
        """True when no item is waiting."""
        return not self._items

    def full(self) -> bool:
        """Never: the queue is unbounded."""
        return False

    def put_nowait(self, item: Any) -> None:
        """Append ``item`` and wake the oldest waiting getter."""
        self._items.append(item)
        self._unfinished_tasks += 1
        self._wake_getter()

    async def put(self, item: Any) -> None:
        """As ``put_nowait`` (an unbounded queue never waits)."""
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        """The oldest item; raises asyncio.QueueEmpty when there is none."""
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    async def get(self) -> Any:
        """The oldest item, waiting for one if needed."""
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()  # in case it was not done yet
                if getter in self._getters:
                    self._getters.remove(getter)
                # Woken, then cancelled: hand the wake-up to the next getter.
                if self._items and not getter.cancelled():
                    self._wake_getter()
                raise
        return self.get_nowait()

    def _wake_getter(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return

    def task_done(self) -> None:
        """One taken item is dealt with; ``join`` returns when all are."""
        if self._unfinished_tasks <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished_tasks -= 1
        if self._unfinished_tasks == 0 and self._joiners is not None:
            joiners, self._joiners = self._joiners, None
            for joiner in joiners:
                if not joiner.done():
                    joiner.set_result(None)

    async def join(self) -> None:
        """Wait until every item put has had its ``task_done``."""
        if self._unfinished_tasks == 0:
            return
        if self._joiners is None:
            self._joiners = []
        joiner = asyncio.get_running_loop().create_future()
        self._joiners.append(joiner)
        await joiner
