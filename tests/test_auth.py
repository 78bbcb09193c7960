"""Authentication and authorization on both transports: session, token, policy, refusals."""

import asyncio
import json
import time
import uuid
from io import StringIO

import pytest
import socketio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client

from realtime.asgi import realtime_application
from realtime.auth import issue_token
from tests.stores import MemoryStore

pytestmark = [pytest.mark.django_db(transaction=True)]


async def _http_app(scope, receive, send):
    raise AssertionError("HTTP is not used in these tests")


APP = realtime_application(_http_app)


@pytest.fixture(autouse=True)
def closed_to_anonymous(settings):
    settings.REALTIME = {
        **settings.REALTIME,
        "STORE": "tests.stores.MemoryStore",
        "ALLOW_ANONYMOUS": False,
    }


@pytest.fixture(autouse=True)
async def close_thread_connections():
    """Close the worker thread's DB connections after each test: with CONN_MAX_AGE (the
    PostgreSQL setup) they would outlive the test and trip the next one's DB guard."""
    yield
    from django.db import connections

    await database_sync_to_async(connections.close_all)()


def make_user(*perms: str, staff: bool = False) -> User:
    user = User.objects.create_user(f"u{uuid.uuid4().hex[:8]}", password="pw", is_staff=staff)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def instance() -> str:
    key = f"pi-{uuid.uuid4().hex[:10]}"
    MemoryStore.add_instance(key)
    return key


async def open_ws(path: str, headers=None) -> tuple[WebsocketCommunicator, dict | None]:
    """Connect; returns the communicator and the close message if the server closed at once."""
    communicator = WebsocketCommunicator(APP, path, headers=headers or [])
    connected, _ = await communicator.connect(timeout=5)
    assert connected  # refusals accept first so that the close code reaches the client
    if await communicator.receive_nothing(timeout=0.3):
        return communicator, None
    output = await communicator.receive_output(timeout=5)
    return communicator, output if output["type"] == "websocket.close" else None


@pytest.mark.asyncio
async def test_anonymous_refused_with_4401_when_not_allowed(hub):
    _, closed = await open_ws("/ws/running_logger/")
    assert closed == {"type": "websocket.close", "code": 4401, "reason": "not_authenticated"}


@pytest.mark.asyncio
async def test_token_accepted_and_expired_token_refused(hub):
    user = await database_sync_to_async(make_user)("view_processinstance")
    token = await database_sync_to_async(issue_token)(user)
    ok, closed = await open_ws(f"/ws/running_logger/?token={token}")
    assert closed is None
    await ok.disconnect()

    short = await database_sync_to_async(issue_token)(user, 1)
    await asyncio.sleep(2.1)
    _, closed = await open_ws(f"/ws/running_logger/?token={short}")
    assert closed["code"] == 4401 and closed["reason"] == "token_expired"
    _, closed = await open_ws(f"/ws/running_logger/?token={token[:-2]}xx")
    assert closed["code"] == 4401 and closed["reason"] == "bad_token"


@pytest.mark.asyncio
async def test_bearer_header_token_accepted(hub):
    user = await database_sync_to_async(make_user)("view_processinstance")
    token = await database_sync_to_async(issue_token)(user)
    ok, closed = await open_ws(
        "/ws/running_logger/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    assert closed is None
    await ok.disconnect()


@pytest.mark.asyncio
async def test_django_session_accepted(hub):
    user = await database_sync_to_async(make_user)("view_processinstance")
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    header = f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()
    ok, closed = await open_ws("/ws/running_logger/", headers=[(b"cookie", header)])
    assert closed is None
    await ok.disconnect()
    _, closed = await open_ws("/ws/running_logger/", headers=[(b"cookie", b"sessionid=nonsense")])
    assert closed["code"] == 4401


@pytest.mark.asyncio
async def test_user_without_permission_cannot_follow(hub):
    user = await database_sync_to_async(make_user)()
    token = await database_sync_to_async(issue_token)(user)
    _, closed = await open_ws(f"/ws/running_logger/?process_instance_id={instance()}&token={token}")
    assert closed == {"type": "websocket.close", "code": 4403, "reason": "forbidden"}
    _, closed = await open_ws(f"/ws/uia/?role=agent&token={token}")
    assert closed["code"] == 4403


@pytest.mark.asyncio
async def test_follow_without_control_cannot_send_debug_sign(hub):
    viewer = await database_sync_to_async(make_user)("view_processinstance")
    key = instance()
    token = await database_sync_to_async(issue_token)(viewer)
    ws, closed = await open_ws(f"/ws/running_logger/?process_instance_id={key}&token={token}")
    assert closed is None
    await ws.send_to(
        text_data=json.dumps(
            {"topic": "debug_sign", "msg": "debug continue", "process_instance_id": key}
        )
    )
    reply = json.loads(await ws.receive_from(timeout=5))
    assert reply["topic"] == "error" and reply["message"]["code"] == "forbidden"
    await ws.disconnect()


@pytest.mark.asyncio
async def test_debug_permission_and_staff_may_send_debug_sign(hub):
    for user in (
        await database_sync_to_async(make_user)("view_processinstance", "debug_processinstance"),
        await database_sync_to_async(make_user)(staff=True),
    ):
        key = instance()
        token = await database_sync_to_async(issue_token)(user)
        ws, closed = await open_ws(f"/ws/running_logger/?process_instance_id={key}&token={token}")
        assert closed is None
        sign = {"topic": "debug_sign", "msg": "debug stop", "process_instance_id": key}
        await ws.send_to(text_data=json.dumps(sign))
        frames = []
        while not await ws.receive_nothing(timeout=0.5):
            frames.append(json.loads(await ws.receive_from(timeout=1)))
        assert all(f.get("topic") != "error" for f in frames), frames
        await ws.disconnect()


def test_token_endpoint_gives_a_token_to_signed_in_users_only():
    client = Client()
    assert client.get("/realtime/token").status_code == 401
    user = make_user("view_processinstance")
    client.force_login(user)
    answer = client.get("/realtime/token").json()
    assert answer["code"] == 200 and answer["data"]["expires_in"] == 3600
    from realtime.auth import user_from_token

    assert user_from_token(answer["data"]["token"]) == user


def test_realtime_token_command_prints_a_working_token():
    user = make_user()
    out = StringIO()
    call_command("realtime_token", user.username, "--max-age", "60", stdout=out)
    from realtime.auth import user_from_token

    assert user_from_token(out.getvalue().strip()) == user


@pytest.mark.live
@pytest.mark.asyncio
async def test_socketio_refusal_carries_code_and_token_connects(live_servers):
    user = await database_sync_to_async(make_user)("view_processinstance")
    token = await database_sync_to_async(issue_token)(user)
    server = live_servers.start("daphne", env={"REALTIME_ALLOW_ANONYMOUS": "false"})
    anonymous = socketio.AsyncClient(reconnection=False)
    errors: list = []
    anonymous.on("connect_error", errors.append, namespace="/running_logger")
    started = time.monotonic()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await anonymous.connect(
            server.http, namespaces=["/running_logger"], transports=["websocket"], wait_timeout=5
        )
    assert time.monotonic() - started < 5  # refused, not left hanging
    assert errors, "no connect_error"
    data = errors[0].get("data", errors[0]) if isinstance(errors[0], dict) else errors[0]
    assert data["code"] == "not_authenticated", errors

    authed = socketio.AsyncClient(reconnection=False)
    await authed.connect(
        server.http,
        namespaces=["/running_logger"],
        transports=["websocket"],
        auth={"token": token},
        wait_timeout=5,
    )
    assert authed.connected
    await asyncio.wait_for(authed.disconnect(), 5)

    by_query = socketio.AsyncClient(reconnection=False)  # ?token= on the URL works too
    await by_query.connect(
        f"{server.http}?token={token}",
        namespaces=["/running_logger"],
        transports=["websocket"],
        wait_timeout=5,
    )
    assert by_query.connected
    await asyncio.wait_for(by_query.disconnect(), 5)
