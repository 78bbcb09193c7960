"""Calls that arrive while the previous batch is in flight run together, as the next batch.

Why: a connection storm makes hundreds of connects ask the same costly thing at once (a
Redis round trip, a hop to the database thread). Done one batch at a time, each batch takes
everything that arrived while the one before ran: the cost per call drops with the load,
and with nothing in flight a call runs after a single loop turn.

Items nobody waits for (``put``) may also wait a little for company: their batch starts
``linger`` seconds after its first such item, or at once when a caller that waits joins it.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class _Batch:
    __slots__ = ("done", "items", "started", "unwaited")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.unwaited: list[int] = []  # indexes of items put, not submitted
        self.started = False
        self.done: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.done.add_done_callback(_retrieve)  # no "never retrieved" if every caller left


class Batcher(Generic[T, R]):
    """Runs ``run_batch(items)`` for items submitted together, one batch at a time, in order.

    ``run_batch`` returns one result per item; an item whose result is an exception raises
    it to that item's caller. If ``run_batch`` itself raises, every caller of the batch gets
    the error. Each caller waits for its own batch, never for later ones. Failures of items
    nobody waits for are logged. Bound to one event loop.
    """

    def __init__(
        self, run_batch: Callable[[list[T]], Awaitable[list[Any]]], *, linger: float = 0.0
    ) -> None:
        self._run_batch = run_batch
        self._linger = linger
        self._open: _Batch | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._one_at_a_time = asyncio.Lock()
        self._runners: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        """Add ``item`` to the open batch and return its result once the batch has run."""
        batch, index = self._add(item)
        self._start(batch)
        result = (await asyncio.shield(batch.done))[index]
        if isinstance(result, BaseException):
            raise result
        return result

    def put(self, item: T) -> None:
        """Add ``item`` to the open batch without waiting for it (at most ``linger`` later)."""
        batch, index = self._add(item)
        batch.unwaited.append(index)
        if not batch.started and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._linger, self._start, batch)

    def _add(self, item: T) -> tuple[_Batch, int]:
        batch = self._open
        if batch is None:
            batch = self._open = _Batch()
        batch.items.append(item)
        return batch, len(batch.items) - 1

    def _start(self, batch: _Batch) -> None:
        if batch.started:
            return
        batch.started = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        runner = asyncio.ensure_future(self._run(batch))
        self._runners.add(runner)  # the loop keeps only weak references to tasks
        runner.add_done_callback(self._runners.discard)

    async def _run(self, batch: _Batch) -> None:
        try:
            async with self._one_at_a_time:  # FIFO: batches run in the order they opened
                self._close(batch)  # later calls open the next batch
                results = await self._run_batch(batch.items)
        except Exception as exc:
            batch.done.set_exception(exc)
            if batch.unwaited:
                logger.warning("%d queued item(s) failed: %r", len(batch.unwaited), exc)
        else:
            batch.done.set_result(results)
            _log_unwaited_failures(batch, results)
        finally:
            self._close(batch)
            if not batch.done.done():
                batch.done.cancel()  # the runner itself was cancelled (the loop is closing)

    def _close(self, batch: _Batch) -> None:
        if self._open is batch:
            self._open = None


def _log_unwaited_failures(batch: _Batch, results: list[Any]) -> None:
    for index in batch.unwaited:
        if isinstance(results[index], BaseException):
            logger.warning("A queued item failed: %r", results[index])


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
