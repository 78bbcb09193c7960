"""Engine.IO pings from one timer per event loop instead of one sleeping task per socket.

Why: python-engineio starts a task for each socket's next ping (``AsyncSocket._send_ping``:
sleep ``ping_interval``, 25 s by default, then queue a PING), so an idle socket.io connection
spends its whole life holding a task, its coroutine, a future and a timer: 1.8 KB each on
uvloop (tracemalloc), on every one of thousands of connections. Here a socket waits for its
ping in a slot (one list entry); one timer per event loop fires at the next slot's end and a
short task sends the pings that are due, exactly as ``_send_ping`` does after its sleep.
python-engineio still decides when a ping is scheduled (at the handshake and on each PONG)
and when a silent client is gone.
"""

import asyncio
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
        self._due: dict[float, list[Any]] = {}  # slot end (loop time) -> sockets
        self._timer: asyncio.TimerHandle | None = None
        self._pinging: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    def add(self, sock: Any) -> None:
        """Ping ``sock`` once its server's ``ping_interval`` has passed."""
        interval = sock.server.ping_interval
        slot = min(MAX_SLOT_SECONDS, interval / 10)
        due = math.ceil((self._loop.time() + interval) / slot) * slot
        self._due.setdefault(due, []).append(sock)
        if self._timer is None or due < self._timer.when():
            self._arm(due)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self._loop.time()
        due_now = [sock for due in sorted(self._due) if due <= now for sock in self._due.pop(due)]
        if due_now:
            task = self._loop.create_task(_ping_all(due_now))
            self._pinging.add(task)
            task.add_done_callback(self._pinging.discard)
        if self._due:  # also when the timer fired a hair early: it fires again at once
            self._arm(min(self._due))

    def waiting(self) -> int:
        """How many sockets wait for a ping."""
        return sum(map(len, self._due.values()))


async def _ping_all(socks: list[Any]) -> None:
    for sock in socks:
        # python-engineio's _send_ping after its sleep.
        if sock.closing or sock.closed:
            continue
        sock.last_ping = time.time()
        try:
            await sock.send(eio_packet.Packet(eio_packet.PING))
        except Exception:  # closed meanwhile: one socket's trouble must not stop the others
            logger.debug("Ping to %s not sent", sock.sid, exc_info=True)


_schedules: PerLoop[PingSchedule] = PerLoop()


def schedule(sock: Any) -> None:
    """Queue ``sock``'s next ping on the running loop's schedule."""
    _schedules.get(lambda: PingSchedule(asyncio.get_running_loop())).add(sock)


def current_schedule() -> PingSchedule | None:
    """The running loop's schedule, if it has one."""
    return _schedules.current()
