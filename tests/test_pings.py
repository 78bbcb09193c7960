"""realtime.socketio.pings: Engine.IO pings from one timer per event loop.

In-process with stand-in sockets for the schedule's rules, then against live servers with a
raw Engine.IO client that sees every ping, and python-socketio's client, which gives up on a
server that stops pinging.
"""

import asyncio
import itertools
import json
import logging
import time

import pytest
import websockets
from engineio import async_socket
from engineio import packet as eio_packet

from realtime.socketio import pings
from realtime.socketio.server import build_server
from tests.clients import SocketIOClient
from tests.live import publish_from_other_process

pytestmark = pytest.mark.asyncio


class StandInServer:
    def __init__(self, ping_interval: float, ping_timeout: float) -> None:
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.reason = build_server().eio.reason
        self.logger = logging.getLogger("tests.pings")


class StandInSocket:
    """What the schedule reads and calls on python-engineio's AsyncSocket."""

    def __init__(
        self, sid: str, ping_interval: float, *, ping_timeout: float = 60, fails: bool = False
    ) -> None:
        self.sid, self.server = sid, StandInServer(ping_interval, ping_timeout)
        self.closing = self.closed = False
        self.close_reason = None
        self.last_ping: float | None = None
        self.sent: list[eio_packet.Packet] = []
        self.fails = fails

    async def send(self, pkt: eio_packet.Packet) -> None:
        if self.fails:
            raise RuntimeError("socket went away")
        if self.last_ping and time.time() - self.last_ping > self.server.ping_timeout:
            return  # as python-engineio's send: nothing goes out while a ping is overdue
        self.sent.append(pkt)

    async def close(self, wait: bool, abort: bool, reason: str) -> None:
        self.closing, self.close_reason = True, reason
        if not abort:
            await self.send(eio_packet.Packet(eio_packet.CLOSE))
        self.closed = True

    def answer_ping(self) -> None:
        self.last_ping = None  # python-engineio's schedule_ping, on a PONG


def pings_sent(sock: StandInSocket) -> int:
    return sum(pkt.packet_type == eio_packet.PING for pkt in sock.sent)


async def test_a_socket_is_pinged_once_after_its_interval():
    sock = StandInSocket("a", 0.1)
    pings.schedule(sock)
    await asyncio.sleep(0.05)
    assert pings_sent(sock) == 0 and pings.current_schedule().waiting() == 1
    await asyncio.sleep(0.2)
    assert [pkt.encode() for pkt in sock.sent] == ["2"]  # one Engine.IO PING
    assert sock.last_ping is not None and time.time() - sock.last_ping < 1
    assert pings.current_schedule().waiting() == 0
    await asyncio.sleep(0.2)
    assert pings_sent(sock) == 1  # the next one only when python-engineio asks (on a PONG)


async def test_closed_sockets_are_skipped_and_a_failing_send_spares_the_others():
    closed, failing, fine = (
        StandInSocket("closed", 0.05),
        StandInSocket("failing", 0.05, fails=True),
        StandInSocket("fine", 0.05),
    )
    closed.closed = True
    for sock in (closed, failing, fine):
        pings.schedule(sock)
    await asyncio.sleep(0.3)
    assert pings_sent(closed) == 0 and closed.last_ping is None
    assert pings_sent(fine) == 1


async def test_a_short_interval_is_not_held_up_by_a_long_one_scheduled_first():
    slow, fast = StandInSocket("slow", 30.0), StandInSocket("fast", 0.05)
    pings.schedule(slow)
    pings.schedule(fast)
    await asyncio.sleep(0.3)
    assert pings_sent(fast) == 1 and pings_sent(slow) == 0
    assert pings.current_schedule().waiting() == 1


async def test_many_sockets_share_one_timer_and_no_task():
    socks = [StandInSocket(str(n), 0.2) for n in range(500)]
    tasks_before = len(asyncio.all_tasks())
    for sock in socks:
        pings.schedule(sock)
    assert len(asyncio.all_tasks()) == tasks_before
    await asyncio.sleep(0.6)
    assert all(pings_sent(sock) == 1 for sock in socks)


async def test_a_ping_left_unanswered_for_ping_timeout_closes_the_socket_with_a_close():
    silent, alive = (StandInSocket(name, 0.05, ping_timeout=0.1) for name in ("silent", "alive"))
    for sock in (silent, alive):
        pings.schedule(sock)
    await asyncio.sleep(0.1)  # both pinged; only one answers
    assert pings_sent(silent) == pings_sent(alive) == 1
    alive.answer_ping()
    await asyncio.sleep(0.2)  # past the deadline
    assert silent.closed and silent.close_reason == silent.server.reason.PING_TIMEOUT
    assert [pkt.encode() for pkt in silent.sent] == ["2", "1"]  # told, not just forgotten
    assert not alive.closed and alive.close_reason is None


async def test_the_engineio_server_routes_ping_waits_to_the_schedule_and_nothing_else():
    eio = build_server().eio
    sock = async_socket.AsyncSocket(eio, "sid-1")
    tasks_before = len(asyncio.all_tasks())
    sock.schedule_ping()  # what python-engineio calls after the handshake and on each PONG
    assert len(asyncio.all_tasks()) == tasks_before
    assert pings.current_schedule().waiting() == 1

    ran = asyncio.Event()

    async def other_work() -> None:
        ran.set()

    task = eio.start_background_task(other_work)
    await asyncio.wait_for(ran.wait(), 2)
    await task


# Whole seconds: python-engineio tells clients int(seconds). live_servers.start formats env
# values ({port}), hence JSON's braces doubled.
FAST_PINGS = {"REALTIME_OPTIONS": '{{"PING_INTERVAL": 1, "PING_TIMEOUT": 1}}'}


async def raw_engineio_client(server, namespace: str = "/uia"):
    """A WebSocket speaking Engine.IO by hand, joined to ``namespace``; and the OPEN packet."""
    ws = await websockets.connect(f"{server.ws}/socket.io/?EIO=4&transport=websocket")
    opened = await asyncio.wait_for(ws.recv(), 5)
    assert opened.startswith("0")
    await ws.send(f"40{namespace},")
    assert (await asyncio.wait_for(ws.recv(), 5)).startswith(f"40{namespace},")
    return ws, json.loads(opened[1:])


@pytest.mark.live
@pytest.mark.parametrize("kind", ["uvicorn", "daphne"])
async def test_live_pings_arrive_every_interval_and_keep_clients_connected(live_servers, kind):
    server = live_servers.start(kind, env=FAST_PINGS)
    ws, opened = await raw_engineio_client(server)
    assert (opened["pingInterval"], opened["pingTimeout"]) == (1000, 1000)
    sio = SocketIOClient("uia")  # python-socketio's client drops a server silent for 2 s
    await sio.connect(server.http, transports=["websocket"])
    polling = SocketIOClient("uia")
    await polling.connect(server.http, transports=["polling"])

    arrivals = []
    deadline = time.monotonic() + 4.5
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = await asyncio.wait_for(ws.recv(), left)
        except TimeoutError:
            break
        if frame == "2":
            arrivals.append(time.monotonic())
            await ws.send("3")
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(arrivals) >= 3, arrivals  # one a second, plus at most a slot's delay (0.1 s)
    assert min(gaps) >= 0.95, gaps  # never before the interval has passed

    await publish_from_other_process(live_servers.env, "uia", "uia", {"alive": True}, "p-ping")
    expected = {"topic": "uia", "process_id": "p-ping", "message": {"alive": True}}
    assert await sio.next() == expected
    assert await polling.next() == expected
    assert sio.client.connected and polling.client.connected
    await ws.close()
    await sio.disconnect()
    await polling.disconnect()


@pytest.mark.live
@pytest.mark.parametrize("kind", ["uvicorn", "daphne"])
async def test_live_a_client_that_never_answers_a_ping_is_dropped(live_servers, kind):
    server = live_servers.start(kind, env=FAST_PINGS)
    ws, _ = await raw_engineio_client(server)
    started = time.monotonic()
    frames = []
    with pytest.raises(Exception) as closed:  # the server ends the connection
        while time.monotonic() - started < 10:
            frames.append(await asyncio.wait_for(ws.recv(), 10))
    assert "ConnectionClosed" in type(closed.value).__name__, closed.value
    assert "2" in frames and frames[-1] == "1"  # pinged, no answer: told (CLOSE) and let go
    assert time.monotonic() - started < 6  # ping after 1 s, no answer within 1 s more
