"""After the accept, the ASGI server keeps less for the connection's life (uvicorn, daphne).

Why: an idle connection's memory is mostly the server's, and part of it is what the server
needed for the handshake only, or per-connection objects built for more than they do here
(measured with tracemalloc, see ``bench/micro/conn_memory.py``). Called by SendGuard's
direct-writer factory right after the accept (realtime.asgi).
"""

import asyncio
from collections import OrderedDict
from typing import Any

from .queues import LeanEvent, LeanQueue
from .wire import server_protocol


def slim_connection(
    send: Any, *, own_heartbeat: bool = False, receive_follows: bool = False
) -> None:
    """After the accept: let the server keep less for the connection's life.

    Measured with tracemalloc over 2,000 idle socket.io clients. uvicorn's WebSocket protocol
    keeps the parsed handshake request and its response, headers and all, and reads neither
    once the handshake is done: 1.9 KiB; websockets' parser keeps the request too, so its
    headers are emptied: 1.8 KiB more. Its receive queue and ``writable`` Event are an
    asyncio.Queue and an asyncio.Event (3.8 KiB together): they become a LeanQueue and a
    LeanEvent, which uvicorn uses the same way (put_nowait / get / empty; set / clear /
    wait), only while nobody waits on them, so no waiter is left on the old ones; what the
    queue holds moves over in order. With ``own_heartbeat`` (Engine.IO pings and drops silent
    clients itself) uvicorn's keepalive stops: a timer per connection (0.6 KiB) and a
    WebSocket ping every 20 s. Last, what uvicorn's protocol holds alike for every
    connection moves to a class they share (``_share_common_attributes``: 1.3 KiB less).
    daphne's receive queue becomes a LeanQueue too, when the application reads it through
    ``FollowingReceive`` (``receive_follows``).
    """
    owner = server_protocol(send)
    if receive_follows:
        _lean_queue(owner, "application_queue")
    if getattr(owner, "handshake_complete", False) is not True:
        return  # not uvicorn, or not accepted
    if own_heartbeat and hasattr(owner, "stop_keepalive") and hasattr(owner, "ping_interval"):
        owner.stop_keepalive()
        owner.ping_interval = None  # nothing schedules it again
    if hasattr(owner, "response"):
        _clear_headers(owner.request)
        owner.request = owner.response = None
    _lean_queue_and_event(owner)
    _share_common_attributes(owner)


# uvicorn's WebSocket protocol sets 36 attributes on every connection, and most hold the same
# for every connection of one server: these objects of the server (by identity) ...
_SERVER_WIDE = frozenset(
    {
        "config", "app", "loop", "logger", "root_path", "asgi_version", "app_state",
        "connections", "tasks", "default_headers", "close_timeout", "ping_interval",
        "ping_timeout",
    }
)  # fmt: skip
# ... and these immutable values, alike at the accept (by value: the server's address, the
# scheme, literals of uvicorn's __init__); besides, any attribute that is None, True or False.
_ALIKE_AT_ACCEPT = frozenset(
    {"server", "scheme", "curr_msg_data_type", "ping_sent_at", "last_ping_rtt"}
)
# A class per combination of those values: a few per server; bounded all the same.
_MAX_SHARING_CLASSES = 64
_sharing_classes: "OrderedDict[tuple, type]" = OrderedDict()


def _share_common_attributes(owner: Any) -> None:
    """Move what this connection's protocol holds alike with others to a class they share.

    Why: CPython keeps every attribute in the instance's own dict, and uvicorn's 36 (past the
    30 a shared-key dict takes) made a table of 128 slots: 1.5 KiB per connection; rebuilt,
    64 slots (0.8 KiB). Here the attributes alike for every connection become class attributes
    of a subclass of uvicorn's protocol, made once per combination of their values, and the
    instance's dict keeps the rest (transport, queue, parser, scope and a few more: 0.3 KiB).
    Reads find the class's value; a later write lands in the instance's dict as it always
    does; only immutable values and the server's own objects are shared this way.
    """
    values = getattr(owner, "__dict__", None)
    if type(values) is not dict or getattr(type(owner), "_shares_attributes", False):
        return
    common, key = {}, []
    for name, value in values.items():
        if name in _SERVER_WIDE:
            key.append((name, id(value)))  # the class holds it: the id stays its own
        elif value is None or value is True or value is False or _alike_at_accept(name, value):
            key.append((name, value))
        else:
            continue
        common[name] = value
    owner.__class__ = _sharing_class(type(owner), tuple(key), common)
    owner.__dict__ = {name: value for name, value in values.items() if name not in common}


def _alike_at_accept(name: str, value: Any) -> bool:
    if name not in _ALIKE_AT_ACCEPT:
        return False
    try:
        hash(value)  # part of the class's key
    except TypeError:
        return False
    return True


def _sharing_class(base: type, key: tuple, common: dict) -> type:
    cls = _sharing_classes.get((base, key))
    if cls is None:
        namespace = {**common, "_shares_attributes": True, "__module__": __name__}
        cls = _sharing_classes[(base, key)] = type(base.__name__, (base,), namespace)
        if len(_sharing_classes) > _MAX_SHARING_CLASSES:
            _sharing_classes.popitem(last=False)
    else:
        _sharing_classes.move_to_end((base, key))
    return cls


# What of a WebSocket scope only the handshake reads: the denial-response extension, the
# subprotocols offered, the lifespan state's copy, the ASGI version and the raw path (the
# routers dispatched on the decoded one).
_HANDSHAKE_ONLY_SCOPE_KEYS = ("extensions", "subprotocols", "state", "asgi", "raw_path")


def slim_socketio_scope(scope: dict) -> None:
    """After the accept: what a socket.io connection's scope needed for the handshake only goes.

    Measured with tracemalloc over 2,000 idle socket.io clients: its headers 0.8 KiB per
    connection (a tuple and a bytes object each), the keys in ``_HANDSHAKE_ONLY_SCOPE_KEYS``
    0.65 KiB more (uvicorn's two extension dicts, its ASGI version dict, a list, a copy of
    the lifespan state, a bytes object). python-engineio copied the headers it uses into the
    connection's environ when the request arrived (the namespace connect handlers read them
    there, and the peer address from the scope's ``client``, which stays), and neither
    uvicorn nor daphne reads any of these after the accept (uvicorn's log lines use the
    client, path and query string). In place: the server's scope and ours are the one dict.
    Plain WebSocket consumers may read their scope at any time: theirs is left whole.
    """
    headers = scope.get("headers")
    if type(headers) is list:
        headers.clear()
    for key in _HANDSHAKE_ONLY_SCOPE_KEYS:
        scope.pop(key, None)


def _clear_headers(request: Any) -> None:
    # websockets' parser keeps the request in its generator's frame for good.
    headers = getattr(request, "headers", None)
    if hasattr(headers, "clear"):
        headers.clear()


def _lean_queue_and_event(owner: Any) -> None:
    _lean_queue(owner, "queue")
    writable = getattr(owner, "writable", None)
    if type(writable) is asyncio.Event and not writable._waiters:
        owner.writable = LeanEvent()
        if writable.is_set():
            owner.writable.set()


class FollowingReceive:
    """daphne's ASGI ``receive``, reading whatever queue its protocol holds now.

    daphne hands the application ``input_queue.get``, bound to the asyncio.Queue it made
    (3 KiB: three deques and an Event), and its protocol puts into
    ``protocol.application_queue``, the same queue. Read through this, that queue can become
    a LeanQueue after the accept (``slim_connection``), as uvicorn's does.
    """

    __slots__ = ("_first", "protocol")

    def __init__(self, protocol: Any, first_queue: Any) -> None:
        self.protocol, self._first = protocol, first_queue  # realtime.intake reads protocol

    async def __call__(self) -> dict:
        """The next ASGI event of the connection."""
        queue = getattr(self.protocol, "application_queue", None)
        if queue is None:  # not seen on daphne 4.2 (it sets it before the app runs)
            queue = self._first
        else:
            self._first = None  # else it would keep daphne's queue alive after the swap
        return await queue.get()


def following_receive(receive: Any, send: Any) -> Any:
    """``receive`` as a FollowingReceive on daphne WebSocket connections, else unchanged."""
    protocol, queue = server_protocol(send), getattr(receive, "__self__", None)
    if hasattr(protocol, "sendData") and type(queue) is asyncio.Queue:
        return FollowingReceive(protocol, queue)
    return receive


def _lean_queue(owner: Any, attribute: str) -> None:
    # uvicorn's receive queue (``queue``) or daphne's (``application_queue``). Only while
    # nobody waits on it, so no getter is left on the old one; its items move over in order.
    queue = getattr(owner, attribute, None)
    if type(queue) is asyncio.Queue and queue.maxsize <= 0 and not queue._getters:
        lean = LeanQueue()
        while not queue.empty():
            lean.put_nowait(queue.get_nowait())
        setattr(owner, attribute, lean)
