"""realtime.logfilters: a lost Redis connection is one log line, other records are untouched."""

import logging
import sys

import redis

from realtime.logfilters import OneLineRedisOutages


def record(name: str, error: BaseException) -> logging.LogRecord:
    try:
        raise error
    except type(error):
        exc_info = sys.exc_info()
    return logging.LogRecord(name, logging.ERROR, __file__, 1, "Unexpected %s", ("x",), exc_info)


def test_a_channels_redis_connection_error_becomes_one_line():
    rec = record("channels_redis.pubsub", redis.exceptions.ConnectionError("Connection closed"))
    assert OneLineRedisOutages().filter(rec)
    assert rec.exc_info is None
    assert rec.getMessage() == "Unexpected x: ConnectionError: Connection closed"
    assert "Traceback" not in logging.Formatter().format(rec)


def test_other_errors_and_other_loggers_keep_their_traceback():
    for rec in (
        record("channels_redis.pubsub", ValueError("a bug")),
        record("realtime.hub", redis.exceptions.ConnectionError("down")),
    ):
        assert OneLineRedisOutages().filter(rec)
        assert "Traceback" in logging.Formatter().format(rec)
