"""realtime.backlog: broadcasts that were already waiting are delivered together, in order;
a broadcast that came after a wait is delivered at once."""

import asyncio
import time

from realtime import backlog, wire
from realtime.backlog import Backlog

BROADCAST = "realtime.broadcast"
FAST, SLOW = 0.0001, backlog.QUEUED_SECONDS * 10  # a queued message; one that was waited for


class Recorder:
    """The hub's dispatch: records each message and whether writes were being coalesced.

    ``cost``: seconds each delivery takes (many recipients); the backlog holds messages for
    at most what one delivery took.
    """

    def __init__(self, cost: float = 0.0) -> None:
        self.got: list[tuple[int, bool]] = []
        self.cost = cost

    def __call__(self, message: dict) -> None:
        if self.cost:
            time.sleep(self.cost)
        self.got.append((message["n"], wire._gathering is not None))


def learned(deliver: Recorder) -> Backlog:
    """A backlog that has delivered one message already (so it knows what one costs)."""
    b = Backlog(deliver, BROADCAST)
    b.received(broadcast(-1), SLOW)
    deliver.got.clear()
    return b


def broadcast(n: int) -> dict:
    return {"type": BROADCAST, "n": n}


async def test_a_message_that_was_waited_for_is_delivered_at_once():
    deliver = Recorder()
    b = Backlog(deliver, BROADCAST)
    b.receiving()
    b.received(broadcast(1), SLOW)
    assert deliver.got == [(1, False)]


async def test_queued_messages_are_held_then_delivered_together_in_order():
    deliver = Recorder(cost=0.005)
    b = learned(deliver)
    for n in range(3):
        b.receiving()
        b.received(broadcast(n), FAST)
    assert deliver.got == []  # the next one is probably waiting too
    b.receiving()  # ...but it does not come: the timer delivers what is held
    await asyncio.sleep(0.02)
    assert deliver.got == [(0, True), (1, True), (2, True)]


async def test_a_late_message_is_delivered_after_the_held_ones():
    deliver = Recorder(cost=0.005)
    b = learned(deliver)
    b.received(broadcast(0), FAST)
    b.received(broadcast(1), SLOW)
    assert [n for n, _ in deliver.got] == [0, 1]


async def test_other_messages_are_never_held_and_keep_their_place():
    deliver = Recorder(cost=0.005)
    b = learned(deliver)
    b.received(broadcast(0), FAST)
    b.received({"type": "realtime.uia_ack", "n": 1}, FAST)
    assert [n for n, _ in deliver.got] == [0, 1]


async def test_with_few_recipients_nothing_is_held():
    deliver = Recorder()  # delivering is nearly free: holding would only add latency
    b = learned(deliver)
    b.received(broadcast(0), FAST)
    assert deliver.got == [(0, False)]


async def test_holding_stops_at_max_batch_and_after_max_hold():
    deliver = Recorder(cost=backlog.MAX_HOLD_SECONDS * 2)
    b = learned(deliver)
    deliver.cost = 0.0  # (what the backlog learned stays until its next delivery)
    for n in range(backlog.MAX_BATCH):
        b.received(broadcast(n), FAST)
    assert len(deliver.got) == backlog.MAX_BATCH

    deliver.cost = backlog.MAX_HOLD_SECONDS * 2
    b.received(broadcast(99), SLOW)  # learns again: one delivery costs more than MAX_HOLD
    deliver.cost = 0.0
    b.received(broadcast(100), FAST)
    await asyncio.sleep(backlog.MAX_HOLD_SECONDS * 1.5)
    b.received(broadcast(101), FAST)  # fast, but the first held one is too old now
    assert [n for n, _ in deliver.got[-2:]] == [100, 101]


async def test_a_failing_delivery_does_not_stop_the_others():
    delivered = []

    def dispatch(message: dict) -> None:
        if message["n"] == 1:
            raise RuntimeError("bad member")
        delivered.append(message["n"])

    b = Backlog(dispatch, BROADCAST)
    for n in range(3):
        b.received(broadcast(n), FAST)
    b.flush()
    assert delivered == [0, 2]


class Transport:
    def __init__(self) -> None:
        self.calls: list[list[bytes]] = []
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: bytes) -> None:
        self.calls.append([data])

    def writelines(self, chunks: list[bytes]) -> None:
        self.calls.append(list(chunks))


class Protocol:
    close_sent = False

    def __init__(self) -> None:
        self.transport = Transport()


def test_coalesced_writes_give_each_connection_one_write_in_order():
    a, b = wire.UvicornWriter(Protocol()), wire.UvicornWriter(Protocol())
    frames = [wire.SharedFrame(f"f{n}") for n in range(3)]
    with wire.coalesced_writes():
        for frame in frames:
            assert a.write(frame) and b.write(frame)
        assert a.transport.calls == []  # nothing written before the block ends
    assert a.transport.calls == b.transport.calls == [[f.wire for f in frames]]

    a.write(frames[0])  # outside the block: written at once
    assert a.transport.calls[-1] == [frames[0].wire]


def test_frames_held_for_a_connection_that_closed_are_dropped():
    writer = wire.UvicornWriter(Protocol())
    with wire.coalesced_writes():
        writer.write(wire.SharedFrame("x"))
        writer.transport.closing = True
    assert writer.transport.calls == []


def test_daphne_writer_sends_what_the_socket_did_not_take_through_twisted():
    assert wire._unsent([b"abc", b"de", b"f"], 4) == [b"e", b"f"]
    assert wire._unsent([b"abc", b"de"], 3) == [b"de"]
    assert wire._unsent([b"abc"], 3) == []
    assert wire._unsent([b"abc"], 0) == [b"abc"]


class TwistedTransport:
    """The parts of a Twisted TCP transport DaphneWriter reads, over a real socket."""

    TLS = False
    disconnected = disconnecting = False

    def __init__(self, sock) -> None:
        self.socket = sock
        self.dataBuffer, self.offset, self._tempDataLen = b"", 0, 0
        self.later: list[bytes] = []

    def writeSequence(self, chunks: list[bytes]) -> None:  # Twisted's name
        self.later.extend(chunks)
        self._tempDataLen += sum(map(len, chunks))


class AutobahnProtocol:
    STATE_OPEN = 1
    state = 1

    def __init__(self, transport) -> None:
        self.transport = transport


def test_daphne_writer_sends_coalesced_frames_in_one_go_and_the_rest_through_twisted():
    import socket

    server, client = socket.socketpair()
    server.setblocking(False)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    writer = wire.DaphneWriter(AutobahnProtocol(TwistedTransport(server)))
    frames = [wire.SharedFrame(f"{n}" * 30_000) for n in range(4)]  # more than the socket takes
    with wire.coalesced_writes():
        for frame in frames:
            assert writer.write(frame)
    transport = writer.transport
    sent = sum(len(f.wire) for f in frames) - sum(map(len, transport.later))
    assert 0 < sent < sum(len(f.wire) for f in frames)  # the socket took part of it at once
    received = b""
    client.settimeout(1)
    while len(received) < sent:
        received += client.recv(1 << 20)
    assert received + b"".join(transport.later) == b"".join(f.wire for f in frames)  # in order
    server.close()
    client.close()


def test_a_message_is_queued_if_the_layer_returns_it_within_its_own_receive_time():
    from channels.layers import InMemoryChannelLayer
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    # The core layer pulls with Redis round trips; the others hand over what they hold.
    assert backlog.queued_within(RedisChannelLayer()) == backlog.QUEUED_SECONDS
    assert backlog.queued_within(RedisPubSubChannelLayer()) == backlog.QUEUED_SECONDS_PUSHED
    assert backlog.queued_within(InMemoryChannelLayer()) == backlog.QUEUED_SECONDS_PUSHED
    assert backlog.QUEUED_SECONDS_PUSHED < backlog.QUEUED_SECONDS
