"""realtime.slimming: what the ASGI server keeps per connection after the accept.

uvicorn's side is tested live in test_wire (test_uvicorn_keeps_less_per_connection_once_
accepted); daphne runs in its own process in the live tests, so its receive queue is tested
here against a stand-in of its protocol, with the asyncio.Queue daphne makes.
"""

import asyncio
import functools

from realtime import slimming
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


class StandInUvicornProtocol:
    """Attributes as uvicorn's WebSocket protocol sets them: the server's, defaults, its own."""

    def __init__(self, server_config, transport) -> None:
        self.config, self.logger = server_config, server_config["logger"]  # the server's
        self.close_sent, self.close_timer, self.scheme = False, None, "ws"  # alike
        self.ping_sent_at = 0.0
        self.transport, self.frames = transport, []  # its own (a list: never shared)


def test_what_connections_hold_alike_is_kept_once_by_a_class_they_share():
    server_config = {"logger": object()}
    first = StandInUvicornProtocol(server_config, "transport 1")
    second = StandInUvicornProtocol(server_config, "transport 2")
    slimming._share_common_attributes(first)
    slimming._share_common_attributes(second)
    assert type(first) is type(second) and isinstance(first, StandInUvicornProtocol)
    assert vars(first) == {"transport": "transport 1", "frames": []}
    assert first.frames is not second.frames
    assert (first.config, first.close_sent, first.close_timer) == (server_config, False, None)
    assert (first.scheme, first.ping_sent_at) == ("ws", 0.0)
    # A write lands in the connection's own dict, as it always did: the other one's is its own.
    first.close_sent = True
    assert (first.close_sent, second.close_sent) == (True, False)
    assert vars(first)["close_sent"] is True
    slimming._share_common_attributes(first)  # once only
    assert type(first).__mro__[1] is StandInUvicornProtocol


def test_another_server_or_other_values_get_their_own_class_and_the_classes_are_bounded():
    server_config = {"logger": object()}
    one = StandInUvicornProtocol(server_config, "t")
    other_server = StandInUvicornProtocol({"logger": object()}, "t")
    other_default = StandInUvicornProtocol(server_config, "t")
    other_default.close_sent = True
    for connection in (one, other_server, other_default):
        slimming._share_common_attributes(connection)
    assert len({type(one), type(other_server), type(other_default)}) == 3
    assert (other_server.config, other_default.close_sent) != (one.config, one.close_sent)
    for _ in range(slimming._MAX_SHARING_CLASSES + 5):
        slimming._share_common_attributes(StandInUvicornProtocol({"logger": object()}, "t"))
    assert len(slimming._sharing_classes) == slimming._MAX_SHARING_CLASSES
