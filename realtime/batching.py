"""Calls that arrive while the previous batch is in flight run together, as the next batch.

Why: a connection storm makes hundreds of connects ask the same costly thing at once (a
Redis round trip, a hop to the database thread). Done one batch at a time, each batch takes
everything that arrived while the one before ran: the cost per call drops with the load,
and with nothing in flight a call runs after a single loop turn.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class _Batch:
    __slots__ = ("done", "items")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.done: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.done.add_done_callback(_retrieve)  # no "never retrieved" if every caller left


class Batcher(Generic[T, R]):
    """Runs ``run_batch(items)`` for items submitted together, one batch at a time, in order.

    ``run_batch`` returns one result per item; an item whose result is an exception raises
    it to that item's caller. If ``run_batch`` itself raises, every caller of the batch gets
    the error. Each caller waits for its own batch, never for later ones. Bound to one event
    loop.
    """

    def __init__(self, run_batch: Callable[[list[T]], Awaitable[list[Any]]]) -> None:
        self._run_batch = run_batch
        self._open: _Batch | None = None
        self._one_at_a_time = asyncio.Lock()
        self._runners: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        """Add ``item`` to the open batch and return its result once the batch has run."""
        batch = self._open
        if batch is None:
            batch = self._open = _Batch()
            runner = asyncio.ensure_future(self._run(batch))
            self._runners.add(runner)  # the loop keeps only weak references to tasks
            runner.add_done_callback(self._runners.discard)
        index = len(batch.items)
        batch.items.append(item)
        result = (await asyncio.shield(batch.done))[index]
        if isinstance(result, BaseException):
            raise result
        return result

    async def _run(self, batch: _Batch) -> None:
        try:
            async with self._one_at_a_time:  # FIFO: batches run in the order they opened
                self._close(batch)  # later calls open the next batch
                results = await self._run_batch(batch.items)
        except Exception as exc:
            batch.done.set_exception(exc)
        else:
            batch.done.set_result(results)
        finally:
            self._close(batch)
            if not batch.done.done():
                batch.done.cancel()  # the runner itself was cancelled (the loop is closing)

    def _close(self, batch: _Batch) -> None:
        if self._open is batch:
            self._open = None


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
