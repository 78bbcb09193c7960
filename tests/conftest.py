"""Test setup: every test runs on the real Redis (channels-redis); no Redis fails, never skips."""

import asyncio
import os

import pytest
import redis
import uvicorn
from django.db import connection

from orderlines.settings import channel_layers_config
from tests.live import LiveServers, PrivateRedis, free_port

# DB 14 keeps test traffic away from a developer's own data in DB 0.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/14"
LAYER_KIND = os.environ.get("CHANNEL_LAYER", "core")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis the tests use, emptied once per session."""
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(
            f"Redis is required at {TEST_REDIS_URL} ({exc}). Start it with: redis-server "
            "--daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
            pytrace=False,
        )
    client.flushdb()
    return TEST_REDIS_URL


@pytest.fixture(scope="session", autouse=True)
def close_database_thread_connections(django_db_setup, django_db_blocker):
    """At the end, close what async tests opened in the database thread.

    database_sync_to_async runs in asgiref's one thread-sensitive thread, whose connection
    stays open (Django closes connections per request, and tests make none); PostgreSQL then
    refuses to drop the test database while it is open.
    """
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    with django_db_blocker.unblock():
        SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)


@pytest.fixture(autouse=True)
def redis_channel_layer(settings, redis_url):
    """Point the channel layer at the real Redis for every test."""
    settings.CHANNEL_LAYERS = channel_layers_config(redis_url, LAYER_KIND)
    settings.REALTIME = {**settings.REALTIME, "RECOVERY_REDIS_URL": redis_url}
    # Tests run with DEBUG off; the suite's clients connect anonymously unless a test of
    # authentication (tests/test_auth.py) turns this off.
    settings.REALTIME = {**settings.REALTIME, "ALLOW_ANONYMOUS": True}
    # In-process connections that a test never closed would hold their address slot
    # (realtime.limits counts per process) into the next test.
    from realtime.limits import ADDRESSES

    ADDRESSES.open.clear()
    yield


@pytest.fixture
async def hub():
    """This test loop's hub, closed (groups left) at the end."""
    from realtime.hub import get_hub

    current = get_hub()
    yield current
    await current.aclose()


def database_env() -> dict[str, str]:
    """Environment that points a child process at the test database."""
    settings_dict = connection.settings_dict
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return {"SQLITE_PATH": str(settings_dict["NAME"]), "DATABASE_URL": ""}
    user, host = settings_dict.get("USER") or "postgres", settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return {"DATABASE_URL": f"postgres://{user}@{host}:{port}/{settings_dict['NAME']}"}


@pytest.fixture
def child_env(redis_url, transactional_db) -> dict[str, str]:
    """Environment for child processes (servers, runners, publishers) sharing our Redis and DB."""
    env = dict(os.environ)
    env.update(database_env())
    env.update(
        {
            "REDIS_URL": redis_url,
            "CHANNEL_LAYER": LAYER_KIND,
            "DJANGO_SETTINGS_MODULE": "orderlines.settings",
            "REALTIME_ALLOW_ANONYMOUS": "true",
        }
    )
    return env


@pytest.fixture
def live_servers(child_env):
    """Start real ASGI server processes on free ports; all are stopped after the test."""
    servers = LiveServers(child_env)
    yield servers
    servers.stop_all()


async def receive_json_within(ws, seconds: float = 5.0):
    """Receive one JSON frame from a websockets client, under a timeout."""
    import json

    return json.loads(await asyncio.wait_for(ws.recv(), seconds))


@pytest.fixture
def private_redis():
    """A redis-server of this test's own, stopped at the end."""
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture
async def uvicorn_server(request):
    """orderlines.asgi under uvicorn in this test's loop (so its connections can be inspected)."""
    from orderlines.asgi import application

    port = free_port()
    # The parameter: whether to offer compression, or a dict of uvicorn.Config options.
    options = request.param if isinstance(request.param, dict) else {}
    options.setdefault("ws_per_message_deflate", request.param is True)
    config = uvicorn.Config(
        application, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **options
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    for _ in range(1000):  # uvicorn offers no event for "listening"; poll its flag
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield port
    server.should_exit = True
    await asyncio.wait_for(task, 10)
