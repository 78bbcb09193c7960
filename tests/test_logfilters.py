"""realtime.logfilters: a lost Redis connection is one log line, other records are untouched;
uvicorn's lines per WebSocket connection are dropped unless LOG_CONNECTIONS."""

import asyncio
import json
import logging
import sys

import pytest
import redis

from realtime import shutdown
from realtime.logfilters import OneLineRedisOutages, QuietConnectionLogger, QuietConnections
from tests.clients import SocketIOClient, plain_ws
from tests.live import PYTHON, free_port, wait_for_port
from tests.test_wire import first_broadcast_reaches, uvicorn_protocol


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


def info(msg: object, *args: object) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, msg, args, None)


def test_only_the_per_connection_lines_are_dropped(settings):
    quiet = QuietConnections()
    chatter = [
        info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", "/ws/running_logger/"),
        info("connection open"),
        info("connection closed"),
    ]
    kept = [
        info('%s - "WebSocket %s" 403', "127.0.0.1:5000", "/ws/running_logger/"),
        info("Application startup complete."),
        info({"not": "a string"}),  # a message of any type passes, without an error
    ]
    assert [quiet.filter(r) for r in chatter + kept] == [False] * 3 + [True] * 3
    settings.REALTIME = {**settings.REALTIME, "LOG_CONNECTIONS": True}
    assert all(quiet.filter(r) for r in chatter)


def test_the_quiet_logger_makes_no_record_of_a_connection_line(monkeypatch, settings):
    made: list[logging.LogRecord] = []
    make_record = logging.Logger.makeRecord
    monkeypatch.setattr(
        logging.Logger, "makeRecord", lambda *a, **k: made.append(make_record(*a, **k)) or made[-1]
    )
    logger = logging.getLogger("uvicorn.error")
    level = logger.level
    logger.setLevel(logging.INFO)  # setLevel, not the attribute: it clears the level cache
    try:
        _check_the_quiet_logger(QuietConnectionLogger(logger), made, settings)
    finally:
        logger.setLevel(level)


def _check_the_quiet_logger(quiet: QuietConnectionLogger, made: list, settings) -> None:

    quiet.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", "/ws/running_logger/")
    quiet.info("connection open")
    assert made == []  # not made and then dropped: not made at all
    quiet.info('%s - "WebSocket %s" 403', "127.0.0.1:5000", "/ws/running_logger/")
    (refused,) = made
    # Where uvicorn called it from (here), not the wrapper's own line.
    assert refused.funcName == "_check_the_quiet_logger"
    assert quiet.level == logging.INFO and quiet.name == "uvicorn.error"  # the logger's own

    settings.REALTIME = {**settings.REALTIME, "LOG_CONNECTIONS": True}
    quiet.info("connection open")
    assert [r.getMessage() for r in made[1:]] == ["connection open"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("uvicorn_server", [False], indirect=True)
async def test_uvicorn_connections_log_through_the_quiet_logger(uvicorn_server, hub):
    async with plain_ws(f"ws://127.0.0.1:{uvicorn_server}/ws/running_logger/") as ws:
        sio = SocketIOClient("running_logger")
        await sio.connect(f"http://127.0.0.1:{uvicorn_server}", transports=["websocket"])
        await first_broadcast_reaches(ws, sio)  # which sets both on the direct path
        protocols = [uvicorn_protocol(c) for c in shutdown._connections]
        loggers = {type(o.logger) for p in protocols for o in (p, p.conn)}
        await sio.disconnect()
    assert len(protocols) == 2 and loggers == {QuietConnectionLogger}


UVICORN_AT_INFO = ["-m", "uvicorn", "orderlines.asgi:application", "--host", "127.0.0.1"]


@pytest.mark.live
@pytest.mark.asyncio
@pytest.mark.parametrize("log_connections", [False, True])
async def test_uvicorn_logs_connections_only_when_asked(live_servers, log_connections):
    port = free_port()
    proc = live_servers.spawn(
        [PYTHON, *UVICORN_AT_INFO, "--port", str(port)],  # uvicorn's default log level: info
        name=f"uvicorn-info-{port}",
        env={"REALTIME_OPTIONS": json.dumps({"LOG_CONNECTIONS": log_connections})},
    )
    wait_for_port(port, proc)
    async with plain_ws(f"ws://127.0.0.1:{port}/ws/running_logger/"):
        sio = SocketIOClient("running_logger")
        await sio.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        await sio.disconnect()
    await asyncio.sleep(0.5)
    log = proc.log_path.read_text()
    assert "Application startup complete" in log  # uvicorn's other INFO lines stay
    # (websockets' "connection closed" needs the end of the stream fed to its parser, which
    # uvicorn 0.54 does not do: it never appears on uvicorn.)
    lines = [log.count(line) for line in ('" [accepted]', "connection open")]
    assert lines == ([2, 2] if log_connections else [0, 0]), log
