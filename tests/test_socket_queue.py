"""SocketQueue: the unbounded asyncio.Queue contract python-engineio relies on, in less memory."""

import asyncio
import tracemalloc

import pytest

from realtime.socketio.queue import SocketQueue
from realtime.socketio.websocket import TrackingEngineIOServer

pytestmark = pytest.mark.asyncio


async def test_items_come_out_in_order_and_get_waits_for_one():
    queue = SocketQueue()
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    for item in ("a", "b", "c"):
        queue.put_nowait(item)
    assert await waiting == "a"
    assert [queue.get_nowait(), await queue.get()] == ["b", "c"]
    assert queue.empty() and queue.qsize() == 0 and not queue.full()
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()


async def test_getters_are_served_oldest_first():
    queue = SocketQueue()
    first, second = asyncio.ensure_future(queue.get()), asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    await queue.put(1)
    await queue.put(2)
    assert await asyncio.gather(first, second) == [1, 2]


async def test_a_cancelled_get_loses_no_item():
    queue = SocketQueue()
    with pytest.raises(TimeoutError):  # how python-engineio's long-polling waits
        await asyncio.wait_for(queue.get(), 0.01)
    queue.put_nowait("kept")
    assert await asyncio.wait_for(queue.get(), 1) == "kept"


async def test_a_getter_woken_then_cancelled_passes_the_item_on():
    queue = SocketQueue()
    woken, other = asyncio.ensure_future(queue.get()), asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("only")
    woken.cancel()  # woken by the put, cancelled before it ran
    assert await asyncio.wait_for(other, 1) == "only"
    assert woken.cancelled()


async def test_join_waits_for_a_task_done_per_item():
    queue = SocketQueue()
    await asyncio.wait_for(queue.join(), 1)  # nothing pending: at once
    queue.put_nowait(1)
    queue.put_nowait(2)
    joined = asyncio.ensure_future(queue.join())
    queue.get_nowait()
    queue.task_done()
    await asyncio.sleep(0)
    assert not joined.done()
    queue.get_nowait()
    queue.task_done()
    await asyncio.wait_for(joined, 1)
    with pytest.raises(ValueError, match="too many times"):
        queue.task_done()


async def test_an_idle_queue_is_a_small_fraction_of_an_asyncio_queue():
    def allocated(make):
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            kept = [make() for _ in range(500)]
            return (tracemalloc.get_traced_memory()[0] - before) / len(kept)
        finally:
            tracemalloc.stop()

    lean, stock = allocated(SocketQueue), allocated(asyncio.Queue)
    assert lean * 4 < stock, (lean, stock)


async def test_engineio_sockets_get_one_and_a_bounded_queue_stays_asyncio_s():
    server = TrackingEngineIOServer(async_mode="asgi")
    assert isinstance(server.create_queue(), SocketQueue)
    assert isinstance(server.create_queue(maxsize=3), asyncio.Queue)
