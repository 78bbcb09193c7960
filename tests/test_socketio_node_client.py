"""The npm ``socket.io-client`` (what the Vue front end uses), connecting exactly as it does."""

import asyncio
import json
import shutil

import pytest

from orderlines.models import Process, ProcessInstance
from tests.live import ROOT, publish_from_other_process

pytestmark = [pytest.mark.asyncio, pytest.mark.live]
JS_DIR = ROOT / "tests" / "js"

UPDATE = {
    "running_edge": ["e-start-a"],
    "task_progress": 50,
    "graph_data": {
        "graphData": {
            "nodes": [
                {
                    "id": "a",
                    "type": "rect",
                    "x": 1,
                    "y": 2,
                    "text": "A",
                    "properties": {"status": "running"},
                }
            ],
            "edges": [],
        }
    },
}


def _make_instance() -> ProcessInstance:
    process = Process.objects.create(name="node-client-test")
    return ProcessInstance.objects.create(process=process, task_progress=7)


async def _publish(env, route, topic, message, key):
    await publish_from_other_process(env, route, topic, message, key)


async def _line(stream) -> dict:
    raw = await asyncio.wait_for(stream.readline(), 20)
    assert raw, "the node client exited early"
    return json.loads(raw)


@pytest.mark.parametrize("server_kind", ["daphne", "uvicorn"])
async def test_frontend_socketio_client_sees_every_field(live_servers, server_kind):
    if shutil.which("node") is None or not (JS_DIR / "node_modules" / "socket.io-client").exists():
        pytest.fail("Run `npm ci` in tests/js first (needs Node.js); .ci/run does.", pytrace=False)
    instance = await asyncio.to_thread(_make_instance)
    key, server = instance.process_instance_id, live_servers.start(server_kind)
    env = {**live_servers.env, "BASE": server.http, "INSTANCE_ID": key, "PROCESS_ID": "p-node"}
    node = await asyncio.create_subprocess_exec(
        "node",
        "frontend_client.mjs",
        cwd=str(JS_DIR),
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert (await _line(node.stdout))["event"] == "connected"
        ready = await _line(node.stdout)
        assert ready == {"event": "ready", "transport": "websocket", "uia": "websocket"}
        # "process start" first: the state then is the instance row (task_progress 7).
        node.stdin.write(b"process start\n")
        await node.stdin.drain()
        assert (await _line(node.stdout))["progress"] == 7
        await _publish(live_servers.env, "running_logger", "running_logger", UPDATE, key)
        sign = {"task_name": "log", "sign": "debug run complete"}
        await _publish(live_servers.env, "running_logger", "debug_message", sign, key)
        await _publish(live_servers.env, "uia", "uia", {"window_title": "Calc"}, "p-node")
        lines = [await _line(node.stdout) for _ in range(4)]
        assert lines[-1]["event"] == "done", lines
        assert await asyncio.wait_for(node.wait(), 10) == 0
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
