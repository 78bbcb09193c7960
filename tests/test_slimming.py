"""realtime.slimming: what the ASGI server keeps per connection after the accept.

uvicorn's side is tested live in test_wire (test_uvicorn_keeps_less_per_connection_once_
accepted); daphne runs in its own process in the live tests, so its receive queue is tested
here against a stand-in of its protocol, with the asyncio.Queue daphne makes.
"""

import asyncio
import functools

from realtime.queues import LeanQueue
from realtime.slimming import FollowingReceive, following_receive, slim_connection


class StandInDaphneProtocol:
    """What slimming reads of daphne's WebSocketProtocol (an autobahn protocol)."""

    application_queue = None  # set by daphne once the application exists

    def sendData(self, data: bytes) -> None:  # autobahn's name
        pass


async def handle_reply(protocol, message) -> None:
    pass


def daphne_connection():
    """A protocol, daphne's ``send`` for it and the receive the application would get."""
    protocol, queue = StandInDaphneProtocol(), asyncio.Queue()  # as create_application
    send = functools.partial(handle_reply, protocol)
    receive = following_receive(queue.get, send)
    protocol.application_queue = queue  # applicationCreateWorked
    return protocol, send, receive


async def test_daphnes_queue_becomes_lean_after_the_accept_and_loses_nothing():
    protocol, send, receive = daphne_connection()
    assert isinstance(receive, FollowingReceive)
    protocol.application_queue.put_nowait({"type": "websocket.connect"})
    assert (await receive())["type"] == "websocket.connect"
    protocol.application_queue.put_nowait({"n": 1})  # arrives before the swap

    slim_connection(send, receive_follows=True)

    assert type(protocol.application_queue) is LeanQueue
    assert receive._first is None  # nothing keeps daphne's own queue alive
    protocol.application_queue.put_nowait({"n": 2})  # daphne puts into what it holds
    assert [await receive(), await receive()] == [{"n": 1}, {"n": 2}]
    waiting = asyncio.ensure_future(receive())
    await asyncio.sleep(0)
    protocol.application_queue.put_nowait({"n": 3})
    assert await asyncio.wait_for(waiting, 1) == {"n": 3}


async def test_not_while_the_application_waits_on_it():
    # Channels' consumers read concurrently with their connect handler: a waiter on the
    # old queue would never be woken, so the queue stays.
    protocol, send, receive = daphne_connection()
    waiting = asyncio.ensure_future(receive())
    await asyncio.sleep(0)
    slim_connection(send, receive_follows=True)
    assert type(protocol.application_queue) is asyncio.Queue
    protocol.application_queue.put_nowait({"n": 1})
    assert await asyncio.wait_for(waiting, 1) == {"n": 1}


async def test_not_unless_the_application_reads_through_a_following_receive():
    protocol, send, _ = daphne_connection()
    slim_connection(send)  # the application holds daphne's own queue.get
    assert type(protocol.application_queue) is asyncio.Queue


def test_other_servers_receive_is_left_alone():
    class Uvicorn:
        async def receive(self) -> dict:
            return {}

        async def send(self, message) -> None:
            pass

    server = Uvicorn()
    assert following_receive(server.receive, server.send) == server.receive
