"""realtime.intake: a WebSocket's events straight from the server's receive queue.

Against stand-ins of what intake reads of uvicorn's and daphne's protocols; live, the idle
socket.io connection's wait is checked in test_parking and its events in test_wire.
"""

import asyncio
import functools

import pytest

from realtime.intake import QueueIntake, ReceiveIntake, intake
from realtime.queues import LeanQueue
from realtime.slimming import following_receive

pytestmark = pytest.mark.asyncio


class Transport:
    resumed = 0

    def resume_reading(self) -> None:
        self.resumed += 1


class StandInUvicorn:
    """What intake reads of uvicorn's WebSocket protocol once slimming swapped its queue."""

    def __init__(self, queue) -> None:
        self.queue, self.read_paused, self.transport = queue, False, Transport()

    async def receive(self) -> dict:
        return await self.queue.get()

    def put(self, event: dict) -> None:
        # What uvicorn does with each message it reads: queue it, then stop reading.
        self.queue.put_nowait(event)
        self.read_paused = True


class StandInDaphne:
    application_queue = None

    def sendData(self, data: bytes) -> None:  # autobahn's name, how slimming knows daphne
        pass


async def read(source) -> dict:
    """The driver's loop (realtime.socketio.websocket.serve_websocket), once."""
    while (event := source.poll()) is None:
        await source.wait()
    return event


async def test_uvicorn_events_come_off_its_queue_and_reading_resumes_once_it_is_empty():
    protocol = StandInUvicorn(LeanQueue())
    source = intake(protocol.receive)
    assert type(source) is QueueIntake
    assert source.poll() is None
    waiting = asyncio.ensure_future(read(source))
    await asyncio.sleep(0)
    assert not waiting.done()
    protocol.put({"n": 1})
    protocol.put({"n": 2})
    assert await asyncio.wait_for(waiting, 1) == {"n": 1}
    assert protocol.read_paused and protocol.transport.resumed == 0  # one still queued
    assert await read(source) == {"n": 2}
    assert not protocol.read_paused and protocol.transport.resumed == 1


async def test_daphne_events_come_off_whatever_queue_its_protocol_holds_now():
    protocol = StandInDaphne()

    async def handle_reply(protocol, message) -> None:
        pass

    first = asyncio.Queue()
    receive = following_receive(first.get, functools.partial(handle_reply, protocol))
    protocol.application_queue = LeanQueue()  # as slimming leaves it after the accept
    source = intake(receive)
    assert type(source) is QueueIntake
    protocol.application_queue.put_nowait({"n": 1})
    assert await read(source) == {"n": 1}


@pytest.mark.parametrize("queue", [asyncio.Queue, None])
async def test_other_receives_are_awaited_as_they_are(queue):
    # uvicorn's queue not swapped (a getter was waiting), or a receive we do not know.
    if queue is None:
        known = asyncio.Queue()
        receive = known.get
    else:
        known = StandInUvicorn(queue())
        receive = known.receive
    source = intake(receive)
    assert type(source) is ReceiveIntake
    assert source.poll() is None
    (known.queue if queue else known).put_nowait({"n": 1})
    assert await read(source) == {"n": 1}
    assert source.poll() is None  # each event once
