"""Log filters for the realtime layer's dependencies."""

import logging


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
