"""Log filters for the realtime layer's dependencies."""

import logging

from . import conf


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
        msg = record.msg
        return not (type(msg) is str and msg in _CONNECTION_LINES) or conf.get("LOG_CONNECTIONS")


def quiet_connection_logs() -> None:
    """Put a QuietConnections filter on uvicorn's logger (once; the setting is read per record)."""
    uvicorn_logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietConnections) for f in uvicorn_logger.filters):
        uvicorn_logger.addFilter(QuietConnections())
