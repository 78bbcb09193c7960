"""A connection idle for longer than redis-py's 5 s read timeout still receives broadcasts."""

import asyncio

import pytest

from tests.clients import SocketIOClient, next_json, plain_ws
from tests.live import publish_from_other_process

pytestmark = [pytest.mark.asyncio, pytest.mark.live]


async def test_idle_clients_still_receive_after_12_seconds(live_servers):
    # channels_redis issue 422: without socket_timeout=None the hub's blocking read dies
    # every 5 s; the hub would then log and retry, so this also checks nothing was lost.
    server = live_servers.start("daphne")
    sio = SocketIOClient("uia")
    await sio.connect(server.http, transports=["websocket"])
    async with plain_ws(f"{server.ws}/ws/uia/") as ws:
        await asyncio.sleep(12)
        await publish_from_other_process(live_servers.env, "uia", "uia", {"idle": True}, "p-idle")
        expected = {"topic": "uia", "process_id": "p-idle", "message": {"idle": True}}
        assert await next_json(ws) == expected
        assert await sio.next() == expected
    await sio.disconnect()
    log = live_servers.procs[0].log_path.read_text()
    assert "Hub receive failed" not in log, log[-2000:]
