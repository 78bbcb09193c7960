"""Redis stops and comes back under a live server: no crash, clear publish errors, recovery."""

import asyncio
import subprocess
import sys
import time

import aiohttp
import pytest

from tests.clients import SocketIOClient, next_json, plain_ws
from tests.live import PYTHON, ROOT, PrivateRedis, free_port

pytestmark = [pytest.mark.live]


def publish_cli(env: dict, text: str, key: str = "p-outage") -> tuple[int, str, float]:
    """Publish one uia answer from another OS process; (exit code, stderr, seconds)."""
    started = time.monotonic()
    done = subprocess.run(
        [PYTHON, "manage.py", "realtime_publish", "uia", "uia", f'{{"n": "{text}"}}', "--key", key],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stderr, time.monotonic() - started


async def publish_until_received(env: dict, receive, text: str, key: str, seconds: float = 20):
    """Publish again and again (the hub re-joins with back-off) until ``receive`` sees it."""
    deadline = time.monotonic() + seconds
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        code, _, _ = await asyncio.to_thread(publish_cli, env, f"{text}-{attempt}", key)
        if code == 0:
            try:
                got = await receive(2.0)
                return got, attempt
            except TimeoutError:
                continue
        await asyncio.sleep(0.5)
    raise AssertionError(f"nothing received within {seconds}s")


async def next_update(ws, seconds: float) -> dict:
    """The next frame that is not an error (a key the store does not know gets one)."""
    while True:
        frame = await next_json(ws, seconds)
        if frame.get("topic") != "error":
            return frame


async def receives(next_frame, message: dict, frames: int = 10) -> None:
    """One of the next ``frames`` frames carries ``message`` (each read under a timeout)."""
    seen = [(await next_frame())["message"]]
    while seen[-1] != message and len(seen) < frames:
        seen.append((await next_frame())["message"])
    assert seen[-1] == message, seen


async def http_ok(base: str) -> int:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/graph/graph_instance?process_instance_id=nope") as answer:
            return answer.status


@pytest.mark.asyncio
async def test_redis_stop_and_restart_mid_run(live_servers):
    redis_server = PrivateRedis().start()
    restarted = None
    env = {**live_servers.env, "REDIS_URL": redis_server.url}
    server = live_servers.start("daphne", env={"REDIS_URL": redis_server.url})
    sio = SocketIOClient("uia")
    await sio.connect(server.http, transports=["websocket"])
    try:
        async with plain_ws(f"{server.ws}/ws/uia/") as ws:
            assert publish_cli(env, "before")[0] == 0
            assert (await next_json(ws))["message"] == {"n": "before"}
            assert (await sio.next())["message"] == {"n": "before"}

            redis_server.stop()
            restarted = PrivateRedis(port=redis_server.port)  # held for the restart
            code, err, seconds = publish_cli(env, "during")
            print(f"\npublish during outage: exit {code} in {seconds:.2f}s: {err.strip()[-160:]}")
            assert code != 0 and "Could not publish" in err
            assert seconds < 8  # includes Django start-up of the CLI (about 1-2 s)
            assert await http_ok(server.http) == 404  # HTTP keeps serving
            await ws.send('{"topic": "nope", "msg": "nope"}')  # the socket is alive
            assert (await next_json(ws))["message"]["code"] == "unknown_message"
            # A new connection during the outage is accepted and subscribed locally.
            async with plain_ws(f"{server.ws}/ws/uia/?process_id=p-new") as late:
                await asyncio.sleep(1.0)
                restarted.start()
                try:
                    got, attempts = await publish_until_received(
                        env, lambda s: next_update(late, s), "after", "p-new"
                    )
                    print(f"after restart: received after {attempts} publish attempt(s)")
                    assert got.get("process_id") == "p-new", got
                    # The connections from before the outage get it too, without reconnecting
                    # (maybe after an earlier attempt: their group may have come back first).
                    await receives(lambda: next_json(ws), got["message"])
                    await receives(sio.next, got["message"])
                    assert server.proc.poll() is None, "server died"
                    log = server.proc.log_path.read_text()
                    assert "Traceback" not in log, log[-3000:]
                finally:
                    await sio.disconnect()  # before Redis goes away again
                    await asyncio.sleep(0.5)
                    restarted.stop()
    finally:
        await sio.disconnect()
        redis_server.stop()
        if restarted is not None:
            restarted.stop()
    print(f"hub log lines about the outage: {log.count('Hub receive failed')} receive failures")


@pytest.mark.asyncio
async def test_startup_with_redis_down_then_up(live_servers):
    redis_server = PrivateRedis()  # its port held, nothing listening yet
    url = redis_server.url
    env = {**live_servers.env, "REDIS_URL": url}
    server = live_servers.start("daphne", env={"REDIS_URL": url})
    assert await http_ok(server.http) == 404
    async with plain_ws(f"{server.ws}/ws/uia/") as ws:
        await asyncio.sleep(0.5)
        assert server.proc.poll() is None
        redis_server.start()
        try:
            got, attempts = await publish_until_received(
                env, lambda s: next_json(ws, s), "late", "p-late"
            )
            print(f"\nstarted without Redis: first update after {attempts} attempt(s)")
            assert got["process_id"] == "p-late"
        finally:
            redis_server.stop()
    assert server.proc.poll() is None
    assert "Traceback" not in server.proc.log_path.read_text()


def test_publish_to_refusing_redis_fails_fast_and_clearly(settings):
    from orderlines.settings import channel_layers_config
    from realtime.exceptions import PublishError
    from realtime.publish import publish

    settings.CHANNEL_LAYERS = channel_layers_config(f"redis://127.0.0.1:{free_port()}/0", "core")
    settings.REALTIME = {**settings.REALTIME, "STORE": None}
    started = time.monotonic()
    with pytest.raises(PublishError, match="Could not publish"):
        publish("uia", "uia", {"x": 1}, key="p-1")
    elapsed = time.monotonic() - started
    print(f"\nin-process publish to a refusing Redis failed in {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-s"]))
