"""channels-redis over several Redis shards and over Redis Sentinel, with real servers."""

import asyncio
import subprocess
import tempfile
from pathlib import Path

import pytest
import redis

from tests.clients import SocketIOClient, next_json, plain_ws
from tests.live import PYTHON, ROOT, PrivateRedis, free_port, wait_for_port

pytestmark = [pytest.mark.asyncio, pytest.mark.live]


async def publish(env: dict, text: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "manage.py", "realtime_publish", "uia", "uia", f'{{"n": "{text}"}}',
        "--key", f"p-{text}", cwd=str(ROOT), env=env,
    )  # fmt: skip
    assert await asyncio.wait_for(proc.wait(), 60) == 0


async def next_update(ws) -> dict:
    """The next frame that is not an error (an unknown key gets one on connect)."""
    while True:
        frame = await next_json(ws)
        if frame.get("topic") != "error":
            return frame


async def roundtrip(live_servers, layer_env: dict, label: str) -> None:
    env = {**live_servers.env, "REDIS_URL": "", **layer_env}
    escaped = {
        k: v.replace("{", "{{").replace("}", "}}")
        for k, v in {"REDIS_URL": "", **layer_env}.items()
    }
    server = live_servers.start("daphne", env=escaped)
    sio = SocketIOClient("uia")
    await sio.connect(server.http, transports=["websocket"])
    async with plain_ws(f"{server.ws}/ws/uia/") as ws:
        for n in range(5):  # several instances, each published from a new OS process
            async with plain_ws(f"{server.ws}/ws/uia/?process_id=p-{label}{n}") as narrowed:
                await publish(env, f"{label}{n}")
                assert (await next_json(ws))["message"] == {"n": f"{label}{n}"}
                assert (await sio.next())["message"] == {"n": f"{label}{n}"}
                assert (await next_update(narrowed))["message"] == {"n": f"{label}{n}"}
    await sio.disconnect()
    assert "Traceback" not in server.proc.log_path.read_text()


async def test_two_shards(live_servers):
    shards = [PrivateRedis().start(), PrivateRedis().start()]
    try:
        await roundtrip(live_servers, {"REDIS_URL": ",".join(s.url for s in shards)}, "shard")
        sizes = [redis.Redis(port=s.port).info("commandstats") for s in shards]
        calls = [
            sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info") for stats in sizes
        ]
        print(f"\nRedis commands served per shard during the run: {calls}")
        # Both carried traffic: the route group's shard (by the group name's hash, the second
        # here) and the first, which also keeps recovery (RECOVERY_REDIS_URL).
        assert all(count > 0 for count in calls), calls
    finally:
        for shard in shards:
            shard.stop()


async def test_sentinel(live_servers):
    master = PrivateRedis().start()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "sentinel.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {tmp}\n"
            f"sentinel monitor orderlines 127.0.0.1 {master.port} 1\n"
        )
        sentinel = subprocess.Popen(  # noqa: ASYNC220  (a fixture-like helper process)
            ["redis-server", str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, sentinel)
            await asyncio.sleep(0.5)
            env = {"REDIS_SENTINELS": f"127.0.0.1:{port}", "REDIS_SENTINEL_MASTER": "orderlines"}
            await roundtrip(live_servers, env, "sentinel")
            print("\nsentinel: 5 updates round-tripped through a master found via Sentinel")
        finally:
            sentinel.terminate()
            sentinel.wait(timeout=10)
            master.stop()
