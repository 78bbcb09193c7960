"""No update lost: clients cut mid-run reconnect (to another server process) and miss nothing."""

import asyncio
import json
import sys

import pytest
import socketio

from orderlines.models import Process, ProcessInstance
from tests.clients import plain_ws
from tests.live import ROOT
from tests.proxy import SwitchingProxy

pytestmark = [pytest.mark.asyncio, pytest.mark.live]
COUNT = 60
JS_DIR = ROOT / "tests" / "js"


def _make_instance() -> str:
    process = Process.objects.create(name="recovery-test")
    return ProcessInstance.objects.create(process=process).process_instance_id


async def _start_publisher(servers, key: str, count: int = COUNT, interval: float = 0.05):
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.publisher",
        key,
        str(count),
        str(interval),
        cwd=str(ROOT),
        env=servers.env,
        stdout=asyncio.subprocess.DEVNULL,
    )


async def _line(stream) -> dict:
    raw = await asyncio.wait_for(stream.readline(), 40)
    assert raw, "the client exited early"
    return json.loads(raw)


async def test_npm_client_recovers_on_the_other_server_process(live_servers):
    key = await asyncio.to_thread(_make_instance)
    first, second = live_servers.start("daphne"), live_servers.start("uvicorn")
    proxy = await SwitchingProxy(first.port).start()
    env = {
        **live_servers.env,
        "BASE": f"http://127.0.0.1:{proxy.port}",
        "INSTANCE_ID": key,
        "COUNT": str(COUNT),
    }
    node = await asyncio.create_subprocess_exec(
        "node", "recovery_client.mjs", cwd=str(JS_DIR), env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert (await _line(node.stdout))["event"] == "ready"
        publisher = await _start_publisher(live_servers, key)
        assert (await _line(node.stdout)) == {"event": "progress", "n": 10}
        first.proc.kill()  # the server the client is on dies; the balancer sends it elsewhere
        proxy.switch(second.port)
        reconnected = await _line(node.stdout)
        assert reconnected["event"] == "reconnected" and reconnected["recovered"] is True
        summary = await _line(node.stdout)
        assert summary["received"] == list(range(1, COUNT + 1)), summary
        assert await asyncio.wait_for(publisher.wait(), 60) == 0
        print(
            f"npm client: cut after {reconnected['after']} updates, recovered, "
            f"{len(summary['received'])}/{COUNT} received once and in order"
        )
    finally:
        if node.returncode is None:
            node.kill()
        await node.wait()
        await proxy.stop()


async def test_python_socketio_client_resumes_with_last_seq(live_servers):
    key = await asyncio.to_thread(_make_instance)
    first, second = live_servers.start("uvicorn"), live_servers.start("daphne")
    proxy = await SwitchingProxy(first.port).start()
    seen: list[int] = []
    last_seq = {"value": 0}
    client = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2)

    @client.on("running_logger", namespace="/running_logger")
    async def on_update(payload, *rest):
        if payload.get("process_instance_id") == key and "n" in payload["message"]:
            # Extra arguments the front end ignores: the seq, then (live ones) the offset.
            seq = rest[0]
            assert seq == payload["message"]["n"] and all(isinstance(o, str) for o in rest[1:])
            seen.append(seq)
            last_seq["value"] = seq

    def auth() -> dict:  # asked again on every reconnection
        return {"process_instance_id": key, "last_seq": str(last_seq["value"])}

    await client.connect(
        f"http://127.0.0.1:{proxy.port}",
        namespaces=["/running_logger"],
        socketio_path="socket.io",
        transports=["websocket"],
        auth=auth,
    )
    publisher = await _start_publisher(live_servers, key)
    for _ in range(200):
        if len(seen) >= 10:
            break
        await asyncio.sleep(0.05)
    assert len(seen) >= 10
    first.proc.kill()
    proxy.switch(second.port)
    await asyncio.wait_for(publisher.wait(), 60)
    for _ in range(100):
        if len(seen) >= COUNT:
            break
        await asyncio.sleep(0.1)
    assert seen == list(range(1, COUNT + 1))
    await asyncio.wait_for(client.disconnect(), 5)
    await proxy.stop()


async def test_plain_websocket_client_resumes_with_last_seq(live_servers):
    key = await asyncio.to_thread(_make_instance)
    server = live_servers.start("daphne")
    seen: list[int] = []
    url = f"{server.ws}/ws/running_logger/?process_instance_id={key}"
    publisher = await _start_publisher(live_servers, key)
    async with plain_ws(url) as ws:
        while len(seen) < 15:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if "n" in frame["message"]:
                seen.append(frame["seq"])
    # Cut: closed mid-run; the runner goes on publishing while we are away.
    await asyncio.sleep(0.7)
    async with plain_ws(f"{url}&last_seq={seen[-1]}") as ws:
        while seen[-1] < COUNT:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            seen.append(frame["seq"])
    assert await asyncio.wait_for(publisher.wait(), 60) == 0
    assert seen == list(range(1, COUNT + 1))
