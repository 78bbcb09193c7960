"""LeanQueue and LeanEvent: the asyncio.Queue and asyncio.Event contracts python-engineio and
uvicorn rely on, in less memory."""

import asyncio
import tracemalloc

import pytest

from realtime.queues import LeanEvent, LeanQueue
from realtime.socketio.websocket import TrackingEngineIOServer

pytestmark = pytest.mark.asyncio


async def test_items_come_out_in_order_and_get_waits_for_one():
    queue = LeanQueue()
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
    queue = LeanQueue()
    first, second = asyncio.ensure_future(queue.get()), asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    await queue.put(1)
    await queue.put(2)
    assert await asyncio.gather(first, second) == [1, 2]


async def test_a_cancelled_get_loses_no_item():
    queue = LeanQueue()
    with pytest.raises(TimeoutError):  # how python-engineio's long-polling waits
        await asyncio.wait_for(queue.get(), 0.01)
    queue.put_nowait("kept")
    assert await asyncio.wait_for(queue.get(), 1) == "kept"


async def test_a_getter_woken_then_cancelled_passes_the_item_on():
    queue = LeanQueue()
    woken, other = asyncio.ensure_future(queue.get()), asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("only")
    woken.cancel()  # woken by the put, cancelled before it ran
    assert await asyncio.wait_for(other, 1) == "only"
    assert woken.cancelled()


async def test_join_waits_for_a_task_done_per_item():
    queue = LeanQueue()
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


def allocated(make) -> float:
    """Bytes allocated per object, for 500 of them kept alive."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(500)]
        return (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()


async def test_an_idle_queue_is_a_small_fraction_of_an_asyncio_queue():
    lean, stock = allocated(LeanQueue), allocated(asyncio.Queue)
    assert lean * 4 < stock, (lean, stock)


async def test_an_event_wakes_every_waiter_on_set_and_blocks_again_after_clear():
    event = LeanEvent()
    assert not event.is_set()
    waiters = [asyncio.ensure_future(event.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    event.set()
    event.set()  # twice: no harm
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True] * 3
    assert event.is_set() and await event.wait() is True  # set: returns at once
    event.clear()
    blocked = asyncio.ensure_future(event.wait())
    await asyncio.sleep(0.01)
    assert not blocked.done()
    event.set()
    assert await asyncio.wait_for(blocked, 1) is True


async def test_a_cancelled_event_waiter_leaves_and_the_others_still_wake():
    event = LeanEvent()
    leaving, staying = asyncio.ensure_future(event.wait()), asyncio.ensure_future(event.wait())
    await asyncio.sleep(0)
    leaving.cancel()
    await asyncio.sleep(0)
    assert leaving.cancelled() and len(event._waiters) == 1
    event.set()
    assert await asyncio.wait_for(staying, 1) is True


async def test_an_idle_event_is_a_small_fraction_of_an_asyncio_event():
    lean, stock = allocated(LeanEvent), allocated(asyncio.Event)
    assert lean * 4 < stock, (lean, stock)


async def test_engineio_sockets_get_one_and_a_bounded_queue_stays_asyncio_s():
    server = TrackingEngineIOServer(async_mode="asgi")
    assert isinstance(server.create_queue(), LeanQueue)
    assert isinstance(server.create_queue(maxsize=3), asyncio.Queue)


async def test_on_put_is_called_after_each_put_with_the_item_in_place():
    queue, seen = LeanQueue(), []
    queue.on_put = lambda: seen.append(queue.qsize())
    queue.put_nowait("a")
    await queue.put("b")
    assert seen == [1, 2]
    queue.on_put = None
    queue.put_nowait("c")
    assert seen == [1, 2] and queue.qsize() == 3


async def test_item_ready_is_done_once_an_item_waits_and_leaves_it_in_the_queue():
    queue = LeanQueue()
    queue.put_nowait("at hand")
    assert queue.item_ready().done()  # at once
    assert queue.get_nowait() == "at hand"
    ready = queue.item_ready()
    await asyncio.sleep(0)
    assert not ready.done()
    queue.put_nowait("later")
    await asyncio.wait_for(ready, 1)
    assert queue.get_nowait() == "later"  # still there for the reader to take


async def test_a_cancelled_item_ready_is_skipped_by_the_next_put():
    queue = LeanQueue()
    abandoned = queue.item_ready()
    abandoned.cancel()  # its reader was cancelled
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("for the live getter")
    assert await asyncio.wait_for(waiting, 1) == "for the live getter"
    assert not queue._getters  # the cancelled one did not linger
