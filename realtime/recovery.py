"""Recent broadcasts and socket.io sessions, kept so a reconnecting client misses nothing.

Every broadcast is appended to a capped stream per route; its stream id is the packet's
*offset*, the string socket.io-client hands back when it reconnects. A socket.io session's
subscriptions are kept under its private id (pid) for ``RECOVERY_WINDOW_SECONDS`` after it
disconnects. With ``RECOVERY_REDIS_URL`` both live in Redis, so a client recovers on any
server process; without it they live in this process (the single-process embedded default).

Guarantee: the packets of a route published after ``offset`` and still retained are
returned in publish order. Two publishers racing on one route may reach a server in the
other order than their offsets; a client can then be replayed one packet it already had.
"""

import asyncio
import functools
import logging
import time
from collections import deque
from typing import Any

import orjson

from . import conf
from .batching import Batcher
from .loops import PerLoop

logger = logging.getLogger(__name__)

# Longest a Redis command of the recovery store may take (see RedisRecovery).
REDIS_TIMEOUT = 5.0
# How long a newest-offset read also answers later connects (see RedisRecovery.last_offset).
OFFSET_REUSE_SECONDS = 0.05
# Longest a session save nobody waits for waits for others to share its Redis round trip.
SAVE_LINGER_SECONDS = 0.02


def parse_offset(offset: str) -> tuple[int, int] | None:
    """A stream id ``"<ms>-<n>"`` as a comparable tuple; None if it is not one."""
    try:
        millis, _, number = offset.partition("-")
        return int(millis), int(number or 0)
    except (AttributeError, ValueError):
        return None


class MemoryRecovery:
    """Recovery data in this process only."""

    def __init__(self) -> None:
        self.streams: dict[str, deque[tuple[tuple[int, int], dict]]] = {}
        self.sessions: dict[str, tuple[float, dict]] = {}
        self._last = (0, 0)

    async def append(self, route: str, entry: dict[str, Any]) -> str:
        """Keep ``entry`` and return its offset."""
        now = int(time.time() * 1000)
        self._last = (now, 0) if now > self._last[0] else (self._last[0], self._last[1] + 1)
        stream = self.streams.setdefault(route, deque(maxlen=conf.get("RECOVERY_MAX_PACKETS")))
        stream.append((self._last, entry))
        return f"{self._last[0]}-{self._last[1]}"

    async def since(self, route: str, offset: tuple[int, int]) -> list[tuple[str, dict]] | None:
        """Entries after ``offset`` in order; None if some of them are no longer kept."""
        stream = self.streams.get(route, deque())
        if stream and stream.maxlen == len(stream) and stream[0][0] > offset:
            return None
        return [(f"{i[0]}-{i[1]}", entry) for i, entry in stream if i > offset]

    async def last_offset(self, route: str) -> str:
        """The offset of the newest entry (``"0-0"`` when there is none)."""
        stream = self.streams.get(route)
        return f"{stream[-1][0][0]}-{stream[-1][0][1]}" if stream else "0-0"

    async def save_session(self, pid: str, state: dict[str, Any]) -> None:
        """Keep a session's state for the recovery window."""
        self.save_session_soon(pid, state)

    def save_session_soon(self, pid: str, state: dict[str, Any]) -> None:
        """``save_session`` without waiting (here it is done at once)."""
        self.sessions[pid] = (time.monotonic() + conf.get("RECOVERY_WINDOW_SECONDS"), state)

    async def load_session(self, pid: str) -> dict[str, Any] | None:
        """A session's state, if it is still within the window."""
        expires, state = self.sessions.get(pid, (0.0, None))
        return state if expires > time.monotonic() else None


class RedisRecovery:
    """Recovery data in Redis, shared by every server process."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self.url = url
        # A blocking pool: thousands of sockets disconnecting at once wait for a connection
        # instead of failing with "Too many connections" (seen in the benchmark at C=5,000).
        # No socket_timeout: with one, redis-py sends under asyncio.wait_for, which on Python
        # 3.11 loses a cancellation that arrives as the send completes (CPython gh-86296,
        # fixed in 3.12): a cancelled publisher went on publishing. Every command here runs
        # under asyncio.timeout(REDIS_TIMEOUT) instead, which keeps the cancellation.
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=32, timeout=10, socket_timeout=None, socket_connect_timeout=5
        )
        self.client = redis.Redis(connection_pool=pool)
        self.prefix = conf.get("GROUP_PREFIX")
        # Connections arriving together share one read and one write (see below).
        self._offset_reads: dict[str, asyncio.Future[str]] = {}
        self._session_writes: Batcher[tuple[str, bytes, int], None] = Batcher(
            self._set_all, linger=SAVE_LINGER_SECONDS
        )

    def _stream(self, route: str) -> str:
        return f"{self.prefix}:recovery:{route}"

    async def append(self, route: str, entry: dict[str, Any]) -> str:
        """XADD, trimmed to about ``RECOVERY_MAX_PACKETS`` entries."""
        async with asyncio.timeout(REDIS_TIMEOUT):
            offset = await self.client.xadd(
                self._stream(route),
                {"m": orjson.dumps(entry)},
                maxlen=conf.get("RECOVERY_MAX_PACKETS"),
                approximate=True,
            )
        return offset.decode()

    async def since(self, route: str, offset: tuple[int, int]) -> list[tuple[str, dict]] | None:
        """Entries after ``offset``; None when the stream was trimmed past it."""
        key, start = self._stream(route), f"{offset[0]}-{offset[1]}"
        async with asyncio.timeout(REDIS_TIMEOUT):
            info = await self.client.xinfo_stream(key) if await self.client.exists(key) else None
            if info and info.get("first-entry"):
                first = parse_offset(info["first-entry"][0].decode())
                if (
                    first is not None
                    and first > offset
                    and info["length"] >= conf.get("RECOVERY_MAX_PACKETS")
                ):
                    return None
            rows = await self.client.xrange(key, min=f"({start}", max="+")
        return [(ident.decode(), orjson.loads(fields[b"m"])) for ident, fields in rows]

    async def last_offset(self, route: str) -> str:
        """The id of the newest entry (``"0-0"`` when there is none).

        Callers while a read of ``route`` is in flight share it, and so do callers up to
        ``OFFSET_REUSE_SECONDS`` after it succeeded: an offset read before they asked can
        only be older, so their window starts earlier and they miss nothing. A connection
        storm costs one XREVRANGE per 50 ms, not one (and a round trip to wait for) per
        connect. The price: a client that reconnects before receiving anything may be
        replayed broadcasts of up to that long before it first connected.
        """
        read = self._offset_reads.get(route)
        if read is None:
            read = self._offset_reads[route] = asyncio.ensure_future(self._newest_id(route))
            read.add_done_callback(functools.partial(self._forget_read, route))
        return await asyncio.shield(read)

    def _forget_read(self, route: str, read: asyncio.Future[str]) -> None:
        failed = read.cancelled() or read.exception() is not None
        delay = 0.0 if failed else OFFSET_REUSE_SECONDS  # a failure is never reused
        asyncio.get_running_loop().call_later(delay, self._drop_read, route, read)

    def _drop_read(self, route: str, read: asyncio.Future[str]) -> None:
        if self._offset_reads.get(route) is read:
            del self._offset_reads[route]

    async def _newest_id(self, route: str) -> str:
        async with asyncio.timeout(REDIS_TIMEOUT):
            rows = await self.client.xrevrange(self._stream(route), count=1)
        return rows[0][0].decode() if rows else "0-0"

    async def save_session(self, pid: str, state: dict[str, Any]) -> None:
        """SET with the recovery window as expiry (batched with concurrent saves, in order).

        Each socket.io connect saves its session: one SET costs about 80 us of redis-py CPU,
        one of a pipelined batch about 15 us. Batches go one at a time, so a later save of
        a session always wins.
        """
        await self._session_writes.submit(self._session_write(pid, state))

    def save_session_soon(self, pid: str, state: dict[str, Any]) -> None:
        """``save_session`` without waiting: written with the next batch of saves, at most
        ``SAVE_LINGER_SECONDS`` later (a connect's first save: see realtime.socketio.csr)."""
        self._session_writes.put(self._session_write(pid, state))

    def _session_write(self, pid: str, state: dict[str, Any]) -> tuple[str, bytes, int]:
        window = max(1, int(conf.get("RECOVERY_WINDOW_SECONDS")))
        return f"{self.prefix}:session:{pid}", orjson.dumps(state), window

    async def _set_all(self, items: list[tuple[str, bytes, int]]) -> list[None]:
        async with asyncio.timeout(REDIS_TIMEOUT), self.client.pipeline(transaction=False) as pipe:
            for key, value, expiry in items:
                pipe.set(key, value, ex=expiry)
            await pipe.execute()
        return [None] * len(items)

    async def load_session(self, pid: str) -> dict[str, Any] | None:
        """The stored state, or None once it expired."""
        async with asyncio.timeout(REDIS_TIMEOUT):
            raw = await self.client.get(f"{self.prefix}:session:{pid}")
        return orjson.loads(raw) if raw else None


_memory = MemoryRecovery()
_redis: PerLoop[RedisRecovery] = PerLoop()


def backend() -> MemoryRecovery | RedisRecovery:
    """The recovery store for this event loop (Redis clients are bound to their loop)."""
    url = conf.get("RECOVERY_REDIS_URL")
    if not url:
        return _memory
    return _redis.get(lambda: RedisRecovery(url), still_valid=lambda store: store.url == url)
