"""python-socketio's client manager, with an index of each client's rooms.

Why: ``BaseManager.basic_disconnect`` finds a leaving client's rooms by copying and scanning
every room of its namespace, and every client has a room of its own (its sid). So N clients
leaving together (a network blip, a redeploy, a proxy restart) cost O(N²): 5,000 clients
closing at once kept the event loop busy for 4.2 s, during which nothing else was served.
With the index a disconnect visits only the client's own rooms (``None`` and its sid, here).
The pending connect/disconnect lists are kept as dicts for the same reason: the base class
searches and removes from them by sid, and during such a storm they hold every leaving client.

And a client's own room is implied, not stored: python-socketio keeps a ``bidict`` (an
object and two dicts) per client for a room whose one member is the client, whose Engine.IO
sid the ``None`` room already maps (0.48 KiB of every idle connection, tracemalloc). Its
readers (``get_participants``, ``get_rooms``) answer for it from the ``None`` room.
"""

from typing import Any

import socketio


class _SidList(dict):
    """The list operations BaseManager uses on its pending lists (append, remove, in, len), O(1)."""

    def append(self, sid: str) -> None:
        self[sid] = None

    def remove(self, sid: str) -> None:
        del self[sid]


class _PendingByNamespace(dict):
    """namespace -> pending sids; BaseManager stores ``[]`` here, kept as a ``_SidList``."""

    def __setitem__(self, namespace: str, sids: Any) -> None:
        super().__setitem__(namespace, _SidList.fromkeys(sids))


class IndexedManager(socketio.AsyncManager):
    """An AsyncManager whose disconnects cost the client's own rooms, not the namespace's."""

    def __init__(self) -> None:
        super().__init__()
        self.pending_connect = _PendingByNamespace()
        self.pending_disconnect = _PendingByNamespace()
        # (namespace, sid) -> the rooms it entered besides the two every client is in (None
        # and its own sid), in order (a dict as ordered set). Those two are not indexed: an
        # entry per client was 0.3 KiB of every idle connection, and clients of the routes
        # enter no other room.
        self._client_rooms: dict[tuple[str, str], dict[Any, None]] = {}
        # (namespace, sid) of clients that left their own room (python-socketio allows it).
        self._left_own_room: set[tuple[str, str]] = set()

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> None:
        if room is not None and room == sid:  # its own room: implied while it is connected
            if eio_sid is None and namespace not in self.rooms:  # as BaseManager says it
                raise ValueError("sid is not connected to requested namespace")
            self._left_own_room.discard((namespace, sid))
            return
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        if room is not None:
            self._client_rooms.setdefault((namespace, sid), {})[room] = None

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        if room is not None and room == sid:
            if self._in_own_room(namespace, sid):
                self._left_own_room.add((namespace, sid))
            return
        super().basic_leave_room(sid, namespace, room)
        rooms = self._client_rooms.get((namespace, sid))
        if rooms is not None:
            rooms.pop(room, None)
            if not rooms:
                del self._client_rooms[(namespace, sid)]

    def _in_own_room(self, namespace: str, sid: Any) -> bool:
        # is_sid_room: ``sid`` is a client of the namespace (in its room of all clients).
        return (
            type(sid) is str
            and self.is_sid_room(namespace, sid)
            and (namespace, sid) not in self._left_own_room
        )

    def get_participants(self, namespace: str, room: Any) -> Any:
        """BaseManager.get_participants, with each client in its own (implied) room."""
        ns = self.rooms.get(namespace, {})
        rooms = room if hasattr(room, "__len__") and not isinstance(room, str) else (room,)
        participants: dict[str, Any] = {}
        for name in rooms:
            if name in ns:
                participants.update(ns[name]._fwdm)
            elif self._in_own_room(namespace, name):
                participants[name] = ns[None][name]
        yield from participants.items()

    def get_rooms(self, sid: str, namespace: str) -> list:
        own = self._in_own_room(namespace, sid)
        return [sid] * own + list(self._client_rooms.get((namespace, sid), ()))

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """BaseManager.basic_disconnect, finding the client's rooms in the index."""
        if namespace not in self.rooms:
            return
        for room in (*self._client_rooms.get((namespace, sid), ()), None):
            self.basic_leave_room(sid, namespace, room)
        self._left_own_room.discard((namespace, sid))
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            sids = pending.get(namespace)
            if sids is not None and sid in sids:
                sids.remove(sid)
                if not sids:
                    del pending[namespace]
