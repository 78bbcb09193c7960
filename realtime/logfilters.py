"""Log filters for the realtime layer's dependencies."""

import logging
from typing import Any

from . import conf
from .wire import server_protocol


class OneLineRedisOutages(logging.Filter):
    """channels-redis's records about a lost Redis connection, as one line, not a traceback.

    Why: its pub/sub layer logs every dropped connection with ``logger.exception`` (a dozen
    lines of redis-py internals per failed read) and retries on its own; our hub already says
    in one line that Redis is away. Other records, and other errors, pass unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Fold the exception of a channels-redis connection-error record into its message."""
        error = record.exc_info[1] if record.exc_info else None
        if record.name.startswith("channels_redis") and _is_connection_error(error):
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {error}"
            record.args = ()
            record.exc_info = record.exc_text = None
        return True


def _is_connection_error(error: BaseException | None) -> bool:
    # The built-in ConnectionError and TimeoutError are OSErrors; redis-py's own are not.
    return isinstance(error, OSError) or type(error).__name__ in {
        "ConnectionError",
        "TimeoutError",
    }


# uvicorn's line when it accepts a WebSocket, and websockets' (logging through uvicorn's
# logger) when the connection opens and when it closes: the message templates, as logged.
# ("connection closed" needs the end of the stream fed to websockets' parser, which uvicorn
# 0.54 does not do; dropped too should a later uvicorn do it.)
_CONNECTION_LINES = frozenset(
    {'%s - "WebSocket %s" [accepted]', "connection open", "connection closed"}
)


def _is_dropped(msg: object) -> bool:
    """A per-connection line, while LOG_CONNECTIONS is off (read per record: tests flip it)."""
    return type(msg) is str and msg in _CONNECTION_LINES and not conf.get("LOG_CONNECTIONS")


class QuietConnections(logging.Filter):
    """Drop uvicorn's INFO lines per WebSocket connection unless ``LOG_CONNECTIONS``.

    Why: with thousands of clients, that is two lines per client per reconnect (20,000
    after a deploy at 10,000 clients), and writing them was a fifth of a socket.io
    handshake's CPU on uvicorn (measured: 0.76-0.97 ms per connection, 0.64 with uvicorn at
    ``--log-level warning``, 0.63-0.73 with this filter, which runs after the record is
    made). Refused handshakes (403) and every other record pass.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a per-connection line while LOG_CONNECTIONS is off."""
        return not _is_dropped(record.msg)


class QuietConnectionLogger:
    """uvicorn's logger as one WebSocket protocol (and its websockets parser) sees it: the
    per-connection lines are dropped before a record is made.

    Why: the QuietConnections filter runs only once ``Logger.info`` has found the caller and
    built the record, two records per connection made for nothing (about 3% of a socket.io
    handshake's CPU on uvicorn, cProfile). Everything else goes to the logger unchanged,
    with the caller's line, and any other attribute is the logger's.
    """

    __slots__ = ("_logger",)

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Logger.info, except for a per-connection line while LOG_CONNECTIONS is off."""
        if _is_dropped(msg):
            return
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1  # the caller, not this frame
        self._logger.info(msg, *args, **kwargs)


_quiet: QuietConnectionLogger | None = None


def quiet_protocol_logs(send: Any) -> None:
    """Give the uvicorn WebSocket protocol behind ``send`` the QuietConnectionLogger.

    Call it before the accept (that is when both lines are logged). Only where the protocol
    and its websockets parser log to uvicorn's logger (uvicorn's default protocol); other
    servers keep theirs and the QuietConnections filter.
    """
    global _quiet
    if _quiet is None:  # getLogger takes the logging lock: once, not per connection
        _quiet = QuietConnectionLogger(logging.getLogger("uvicorn.error"))
    protocol = server_protocol(send)
    for owner in (protocol, getattr(protocol, "conn", None)):
        if getattr(owner, "logger", None) is _quiet._logger:
            owner.logger = _quiet


def quiet_connection_logs() -> None:
    """Put a QuietConnections filter on uvicorn's logger (once; the setting is read per record)."""
    uvicorn_logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietConnections) for f in uvicorn_logger.filters):
        uvicorn_logger.addFilter(QuietConnections())
