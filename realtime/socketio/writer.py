"""Engine.IO's own packets on a WebSocket: written only while there are some, and a close
from the server's side that ends the connection (for realtime.socketio.websocket)."""

import asyncio
import time
from typing import Any

from engineio import async_socket
from engineio import exceptions as engineio_exceptions
from engineio import packet as eio_packet

from . import pings


class QueueWriter:
    """Sends what python-engineio queues for a socket on WebSocket (acknowledgements, pings,
    replies) until None, in a task that runs only while there is something to send.

    python-engineio's writer waits in ``queue.get`` for the connection's whole life: a task,
    its frame and a future per idle connection (0.9 KiB, tracemalloc), for a packet every
    ping interval. Broadcasts do not come this way (see websocket.EngineIODirect).
    """

    __slots__ = ("_sending", "queue", "websocket")

    def __init__(self, sock: Any, websocket: Any) -> None:
        self.queue, self.websocket = sock.queue, websocket
        self._sending: asyncio.Future | None = None
        self.queue.on_put = self._wake
        self._wake()  # what was queued before the socket was on WebSocket

    def _wake(self) -> None:
        if self._sending is None and not self.queue.empty():
            self._sending = asyncio.ensure_future(self._send_queued())

    async def _send_queued(self) -> None:
        queue = self.queue
        try:
            while not queue.empty():
                pkt = queue.get_nowait()
                # As python-engineio's poll(): taken means no longer pending for the direct
                # path; the send below starts without yielding and counts itself in ``sending``.
                queue.task_done()
                # Done after None, a failed send or a CLOSE packet (the session is over: the
                # client is told, then the connection ends; see pings for silent clients).
                if pkt is None or not await self._sent(pkt) or pkt.packet_type == eio_packet.CLOSE:
                    queue.on_put = None
                    await self.websocket.close()
                    return
        finally:
            self._sending = None

    async def _sent(self, pkt: Any) -> bool:
        try:
            await self.websocket.send(pkt.encode())
        except Exception:  # the connection is gone
            return False
        return True

    def abandon(self) -> None:
        """Stop now: nothing more is sent, a send under way is cancelled, none is awaited."""
        self.queue.on_put = None
        if self._sending is not None:
            self._sending.cancel()

    async def finish(self) -> None:
        """Queue the final None and wait until the writer has closed the WebSocket."""
        if self.queue.on_put is None:  # already finished (None, a failed send) or abandoned
            return
        self.queue.put_nowait(None)
        if self._sending is not None:
            await self._sending


class WebSocketEngineIOSocket(async_socket.AsyncSocket):
    """python-engineio's socket, for sockets on WebSocket: closing it ends the WebSocket.

    python-engineio's own WebSocket loop leaves that to a timeout on each read, and when it
    drops a client for a missed PONG (its service task's ``check_ping_timeout``) it closes
    only the Engine.IO socket. This loop reads without a timeout, so a close from the
    server's side, whatever its reason, must also end the connection: after what is queued
    (a CLOSE packet included), the writer closes the WebSocket. Set as the socket's class
    once it is on WebSocket (python-engineio makes AsyncSocket instances itself); it adds
    no state.
    """

    async def check_ping_timeout(self) -> bool:
        """python-engineio's check (its service task sweeps every socket with it), dropping a
        silent client as the ping schedule does: with a CLOSE that is really sent."""
        if self.closed:
            raise engineio_exceptions.SocketIsClosedError()
        if self.last_ping and time.time() - self.last_ping > self.server.ping_timeout:
            await pings.drop_silent(self)
            return False
        return True

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        """python-engineio's close, then the end of the WebSocket once its queue is sent."""
        await super().close(wait=wait, abort=abort, reason=reason)
        if self.queue.on_put is not None:  # the writer is still there to end it
            self.queue.put_nowait(None)
