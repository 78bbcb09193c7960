"""A runner in its own OS process, a server in another, clients on both transports."""

import asyncio
import sys

import pytest

from orderlines.models import Process, ProcessInstance
from tests.clients import SocketIOClient, next_json, plain_ws
from tests.fixtures_domain import edge, end, graph, start, task
from tests.live import ROOT

pytestmark = [pytest.mark.asyncio, pytest.mark.live]


def _debug_process() -> Process:
    nodes = [start(), task("prepare"), task("check", breakpoint=True), task("finish"), end()]
    edges = [
        edge("start", "prepare"),
        edge("prepare", "check"),
        edge("check", "finish"),
        edge("finish", "end"),
    ]
    return Process.objects.create(name="live-debug", graph=graph(nodes, edges))


async def _start_runner(servers, name: str, *flags: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "run_process",
        name,
        "--step-delay",
        "0.05",
        *flags,
        cwd=str(ROOT),
        env=servers.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    first = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
    assert first.startswith("process_instance_id="), first
    return proc, first.split("=", 1)[1]


async def _finish(proc: asyncio.subprocess.Process) -> int:
    await asyncio.wait_for(proc.stdout.read(), 60)
    return await asyncio.wait_for(proc.wait(), 60)


async def test_cli_runner_is_seen_live_by_plain_websocket_clients(live_servers):
    await asyncio.to_thread(
        lambda: Process.objects.get_or_create(
            name="live-plain",
            defaults={
                "graph": graph(
                    [start(), task("a"), task("b"), end()],
                    [("start", "a"), ("a", "b"), ("b", "end")],
                )
            },
        )
    )
    server = live_servers.start("daphne")
    async with plain_ws(f"{server.ws}/ws/running_logger/") as ws:
        await asyncio.sleep(0.3)
        runner, key = await _start_runner(live_servers, "live-plain")
        frames = []
        while not frames or frames[-1]["message"]["task_progress"] < 100:
            frame = await next_json(ws, 30)
            assert frame["process_instance_id"] == key
            frames.append(frame)
        assert await _finish(runner) == 0
    seqs = [frame["seq"] for frame in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    final = frames[-1]["message"]["graph_data"]["graphData"]
    tasks = [n for n in final["nodes"] if n["id"] in {"a", "b"}]
    assert {n["properties"]["status"] for n in tasks} == {"success"}


@pytest.mark.parametrize(
    ("sign", "exit_code", "status"),
    [("debug continue", 0, "success"), ("debug stop", 1, "stopped")],
)
async def test_debug_sign_over_socketio_reaches_runner_in_other_process(
    live_servers, sign, exit_code, status
):
    await asyncio.to_thread(_debug_process)
    server = live_servers.start("uvicorn")
    client = SocketIOClient("running_logger")
    await client.connect(server.http)
    runner, key = await _start_runner(live_servers, "live-debug", "--debug")
    while True:
        event = await client.next(30)
        mine = event["process_instance_id"] == key and event["topic"] == "debug_message"
        if mine and event["message"].get("status") == "paused":  # the breakpoint, not a step
            break
    await client.emit({"topic": "debug_sign", "msg": sign, "process_instance_id": key})
    try:
        assert await _finish(runner) == exit_code
    finally:
        if runner.returncode is None:  # never leave a paused runner behind
            runner.kill()
            await runner.wait()
    instance = await asyncio.to_thread(ProcessInstance.objects.get, process_instance_id=key)
    assert instance.status == status
    await client.disconnect()
