"""Socket.IO connection-state recovery, which socket.io-client 4.6+ already speaks.

python-socketio does not implement it; we do: the CONNECT acknowledgement carries a private
session id (``pid``), every broadcast carries its route offset as a last string argument,
and a client that reconnects within ``RECOVERY_WINDOW_SECONDS`` sends ``{pid, offset}`` in
its CONNECT. We then rebuild its subscriptions and send what it missed, on whichever server
process it reaches (both live in realtime.recovery), and ``socket.recovered`` is true.
"""

import logging
import secrets
from typing import Any

from socketio import packet as sio_packet

from .. import recovery
from ..recovery import parse_offset

logger = logging.getLogger(__name__)

# (namespace, sid) -> pid, from the connect handler until the CONNECT packet is built.
_pending_pids: dict[tuple[str, str], str] = {}


class RecoveryPacket(sio_packet.Packet):
    """python-socketio's packet, with the ``pid`` added to a CONNECT acknowledgement."""

    def __init__(
        self,
        packet_type: int = sio_packet.EVENT,
        data: Any = None,
        namespace: str | None = None,
        id: int | None = None,
        binary: bool | None = None,
        encoded_packet: Any = None,
    ) -> None:
        if packet_type == sio_packet.CONNECT and isinstance(data, dict) and "sid" in data:
            pid = _pending_pids.pop((namespace or "/", data["sid"]), None)
            if pid is not None:
                data = {**data, "pid": pid}
        super().__init__(packet_type, data, namespace, id, binary, encoded_packet)


def announce(namespace: str, sid: str, pid: str) -> None:
    """Have the CONNECT acknowledgement of ``sid`` carry ``pid``."""
    _pending_pids[(namespace, sid)] = pid


def forget(namespace: str, sid: str) -> None:
    """Drop a pid that no CONNECT acknowledgement will carry (refused connection)."""
    _pending_pids.pop((namespace, sid), None)


def new_pid() -> str:
    """A fresh private session id (never shown to other clients)."""
    return secrets.token_urlsafe(16)


async def recover(session: Any, pid: str, offset: Any) -> bool:
    """Rebuild ``session`` from stored session ``pid`` and send what it missed after ``offset``.

    False (nothing sent) when the session expired or its missed packets are no longer kept.
    """
    try:
        store = recovery.backend()
        state = await store.load_session(pid)
        if state is None or state.get("route") != session.route.name:
            return False
        start = (parse_offset(offset) if isinstance(offset, str) else None) or parse_offset(
            state.get("start", "0-0")
        )
        missed = await store.since(session.route.name, start)
        if missed is None:
            return False
    except Exception:
        logger.warning("Recovery of a socket.io session failed; starting afresh", exc_info=True)
        return False
    session.hold()
    try:
        await session.restore(state)
        _replay(session, missed, f"{start[0]}-{start[1]}")
    finally:
        session.release()
    return True


def _replay(session: Any, missed: list[tuple[str, dict]], last: str) -> None:
    for offset, entry in missed:
        if session.wants(entry.get("key")):
            message = {
                "event": entry["event"],
                "seq": entry.get("seq"),
                "key": entry.get("key"),
                "offset": offset,
            }
            session.deliver_now(session.codec.encode(message), message)
        last = offset
    session.skip_through(last)  # live copies of what was replayed are dropped


class Saver:
    """``save`` for one recovery session id: a session's ``on_change``.

    A slotted object, not a closure: per connection, 0.1 KiB against a function, its
    closure tuple and two cells (0.2 KiB).
    """

    __slots__ = ("pid", "start")

    def __init__(self, pid: str, start: str) -> None:
        self.pid, self.start = pid, start

    async def __call__(self, session: Any) -> None:
        """Save ``session``'s subscriptions under this ``pid``."""
        await save(session, self.pid, self.start)


async def save(session: Any, pid: str, start: str) -> None:
    """Keep the session's subscriptions under ``pid`` for the recovery window."""
    try:
        await recovery.backend().save_session(pid, _state(session, start))
    except Exception:
        logger.warning("Could not save a socket.io session for recovery", exc_info=True)


def save_soon(session: Any, pid: str, start: str) -> None:
    """``save`` without waiting for the store: a connect's first save.

    Why: the connect's acknowledgement need not wait for it (until the session changes or
    ends, it only matters if this server process dies), and saves nobody waits for share a
    Redis round trip with those of the next few milliseconds, which costs less CPU per save
    (see RedisRecovery.save_session). Later saves of the session come after it.
    """
    try:
        recovery.backend().save_session_soon(pid, _state(session, start))
    except Exception:
        logger.warning("Could not save a socket.io session for recovery", exc_info=True)


def _state(session: Any, start: str) -> dict[str, Any]:
    return {**session.export_state(), "route": session.route.name, "start": start}
