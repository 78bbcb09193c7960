"""Engine.IO pings from one timer per event loop instead of one sleeping task per socket.

Why: python-engineio starts a task for each socket's next ping (``AsyncSocket._send_ping``:
sleep ``ping_interval``, 25 s by default, then queue a PING), so an idle socket.io connection
spends its whole life holding a task, its coroutine, a future and a timer: 1.8 KB each on
uvloop (tracemalloc), on every one of thousands of connections. Here a socket waits for its
ping in a slot (one list entry); one timer per event loop fires at the next slot's end and a
short task sends the pings that are due, exactly as ``_send_ping`` does after its sleep.
python-engineio still decides when a ping is scheduled (at the handshake and on each PONG).

The same schedule drops a client that leaves a ping unanswered for ``ping_timeout``, as
python-engineio's ``check_ping_timeout`` would (a CLOSE packet, after which the WebSocket
writer closes the connection). That is what lets the WebSocket loop read without a timeout
on every wait (a timer and a context per idle connection, see .websocket).
"""

import asyncio
import itertools
import logging
import math
import time
from typing import Any

from engineio import async_socket
from engineio import packet as eio_packet

from ..loops import PerLoop

logger = logging.getLogger(__name__)

# Sockets whose pings fall due within the same slot of this many seconds (or a tenth of the
# ping interval, if shorter) are pinged together, at the slot's end: a ping is at most this
# late, against the ping_timeout (20 s by default) a client allows.
MAX_SLOT_SECONDS = 1.0


def pinged_socket(target: Any) -> Any | None:
    """The Engine.IO socket if ``target`` is its ``_send_ping``, else None."""
    if getattr(target, "__func__", None) is async_socket.AsyncSocket._send_ping:
        return target.__self__
    return None


class PingSchedule:
    """The sockets of one event loop waiting for their next ping, by slot; one timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: dict[float, list[Any]] = {}  # slot end (loop time) -> sockets to ping
        # slot end -> (socket, time.time() of the ping it must have answered by then)
        self._deadlines: dict[float, list[tuple[Any, float]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._pinging: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    def add(self, sock: Any) -> None:
        """Ping ``sock`` once its server's ``ping_interval`` has passed."""
        self._enter(self._due, sock.server.ping_interval, sock)

    def expect_pong(self, sock: Any, ping_sent: float) -> None:
        """Drop ``sock`` if the ping sent at ``ping_sent`` is unanswered after ``ping_timeout``."""
        self._enter(self._deadlines, sock.server.ping_timeout, (sock, ping_sent))

    def _enter(self, slots: dict[float, list[Any]], delay: float, entry: Any) -> None:
        slot = min(MAX_SLOT_SECONDS, delay / 10)
        due = math.ceil((self._loop.time() + delay) / slot) * slot
        slots.setdefault(due, []).append(entry)
        if self._timer is None or due < self._timer.when():
            self._arm(due)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self._loop.time()
        to_ping, overdue = _take_due(self._due, now), _take_due(self._deadlines, now)
        if to_ping or overdue:
            task = self._loop.create_task(self._run(to_ping, overdue))
            self._pinging.add(task)
            task.add_done_callback(self._pinging.discard)
        if self._due or self._deadlines:  # also when it fired a hair early: again at once
            self._arm(min(itertools.chain(self._due, self._deadlines)))

    async def _run(self, to_ping: list[Any], overdue: list[tuple[Any, float]]) -> None:
        for sock, ping_sent in overdue:
            # A PONG clears last_ping (schedule_ping) and the next ping sets it anew.
            if not (sock.closing or sock.closed) and sock.last_ping == ping_sent:
                await drop_silent(sock)
        for sock in to_ping:
            # python-engineio's _send_ping after its sleep.
            if sock.closing or sock.closed:
                continue
            sock.last_ping = sent = time.time()
            self.expect_pong(sock, sent)
            try:
                await sock.send(eio_packet.Packet(eio_packet.PING))
            except Exception:  # closed meanwhile: one socket's trouble must not stop the others
                logger.debug("Ping to %s not sent", sock.sid, exc_info=True)

    def waiting(self) -> int:
        """How many sockets wait for a ping."""
        return sum(map(len, self._due.values()))


def _take_due(slots: dict[float, list[Any]], now: float) -> list[Any]:
    return [entry for due in sorted(slots) if due <= now for entry in slots.pop(due)]


async def drop_silent(sock: Any) -> None:
    """Close ``sock`` for a missed PONG, telling the client (see below)."""
    # As python-engineio's check_ping_timeout: CLOSE (abort=False) so a half-open client
    # that is still there learns it was dropped. Unlike it, the CLOSE is really queued:
    # close() sends through send(), which checks the ping timeout again and drops the packet
    # while last_ping is overdue. That CLOSE is also what ends a WebSocket (QueueWriter).
    sock.server.logger.info("%s: Client is gone, closing socket", sock.sid)
    sock.last_ping = None
    try:
        await sock.close(wait=False, abort=False, reason=sock.server.reason.PING_TIMEOUT)
    except Exception:  # one socket's trouble must not stop the others
        logger.debug("Could not close %s", sock.sid, exc_info=True)


_schedules: PerLoop[PingSchedule] = PerLoop()


def schedule(sock: Any) -> None:
    """Queue ``sock``'s next ping on the running loop's schedule."""
    _schedules.get(lambda: PingSchedule(asyncio.get_running_loop())).add(sock)


def current_schedule() -> PingSchedule | None:
    """The running loop's schedule, if it has one."""
    return _schedules.current()
