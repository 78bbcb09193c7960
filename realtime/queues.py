"""asyncio.Queue and asyncio.Event behaviour at a fraction of their size, for per-connection use.

Why: every connection holds a few of these for its whole life, mostly idle: python-engineio
gives each socket a send queue (``AsyncServer.create_queue``), uvicorn's WebSocket protocol
a receive queue and a ``writable`` Event, daphne's a receive queue (the servers' are swapped
after the accept, see realtime.slimming). ``asyncio.Queue()`` allocates three deques and an
Event (a fourth deque) up front, and an Event one deque: 760 bytes each on Python 3.11,
about 3 KiB per queue (tracemalloc, 2,000 socket.io clients). These keep the same
contracts with lists, and make the lists of waiters only while someone waits.
"""

import asyncio
from collections.abc import Callable
from typing import Any


class LeanQueue:
    """An unbounded FIFO queue with asyncio.Queue's methods (no maxsize).

    FIFO, ``get`` waits, ``join`` waits for a ``task_done`` per item, and a getter cancelled
    after it was woken passes the wake-up on, so no item waits while a getter does.
    """

    __slots__ = ("_getters", "_items", "_joiners", "_unfinished_tasks", "on_put")

    def __init__(self) -> None:
        # Called after each put, for a consumer that runs only while there is something to
        # take instead of waiting in ``get`` (see realtime.socketio.writer.QueueWriter).
        self.on_put: Callable[[], None] | None = None
        self._items: list[Any] = []
        # An idle connection's reader waits here; made on first wait, as ``_joiners``.
        self._getters: list[asyncio.Future[None]] | None = None
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
        if self.on_put is not None:
            self.on_put()

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
            if self._getters is None:
                self._getters = []
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

    def item_ready(self) -> "asyncio.Future[None]":
        """A future done once the queue holds an item (at once if it does), for its one reader.

        A wait without a coroutine frame (see realtime.intake): awaiting this Future keeps
        nothing but the Future, where ``get`` keeps its frame as long as it waits. The item
        stays in the queue for the reader to take; a reader cancelled meanwhile leaves its
        Future cancelled, which the next put skips.
        """
        ready = asyncio.get_running_loop().create_future()
        if self._items:
            ready.set_result(None)
        else:
            if self._getters is None:
                self._getters = []
            self._getters.append(ready)
        return ready

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


class LeanEvent:
    """asyncio.Event's methods: ``wait`` returns once ``set`` is called, until ``clear``."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        """True while set."""
        return self._set

    def set(self) -> None:
        """Set, and wake every waiter."""
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        """Unset: later waits block until the next ``set``."""
        self._set = False

    async def wait(self) -> bool:
        """Return True once set (at once if it is)."""
        if self._set:
            return True
        if self._waiters is None:
            self._waiters = []
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
        return True
