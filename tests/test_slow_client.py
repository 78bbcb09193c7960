"""A client that stops reading: bounded server memory, others unaffected, eventually dropped."""

import asyncio
import base64
import io
import json
import os
import socket
import statistics
import struct
import time

import pytest

from realtime.publish import apublish
from tests.clients import plain_ws

pytestmark = [pytest.mark.asyncio, pytest.mark.live]

UPDATES = 3000
INSTANCES = 50
STUCK_SECONDS = 5
RSS_BOUND_MB = 60  # growth over the idle server's RSS allowed while stuck clients exist
OPTIONS = {"STUCK_CLIENT_SECONDS": STUCK_SECONDS}  # SEND_BUFFER_BYTES: default 256 KiB


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def raw_websocket(port: int, path: str) -> socket.socket:
    """Open a WebSocket by hand on a socket with a tiny receive buffer, and never read it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    return sock


def masked_text_frame(text: str) -> bytes:
    """A client-to-server text frame (clients must mask)."""
    data, mask = text.encode(), os.urandom(4)
    header = bytes([0x81]) + (
        bytes([0x80 | len(data)])
        if len(data) < 126
        else bytes([0x80 | 126]) + struct.pack("!H", len(data))
    )
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def closed_by_server(sock: socket.socket, seconds: float) -> bool:
    """Stay stuck (read nothing) for ``seconds``, then look: True if the server reset or
    closed the connection (reading earlier would make the client a reader again)."""
    time.sleep(seconds)
    sock.settimeout(2.0)
    deadline = time.monotonic() + 10  # what the server had queued drains well within this
    try:
        while sock.recv(1 << 20):
            if time.monotonic() > deadline:
                return False  # data keeps coming: still connected
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False  # the server neither sends nor closes: still connected
    return True


async def stop_publishing(trickle: asyncio.Task) -> None:
    """Cancel ``trickle`` and wait for it; a publish that ignores the cancel fails the test
    with the stacks of every task instead of hanging it."""
    trickle.cancel()
    done, _ = await asyncio.wait([trickle], timeout=15)
    if not done:
        stacks = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(file=stacks)
        pytest.fail(f"the publisher did not stop within 15 s of its cancel:\n{stacks.getvalue()}")
    if not trickle.cancelled() and trickle.exception() is not None:
        raise trickle.exception()


async def run_load(ws, pid: int, label: str) -> dict:
    """Publish UPDATES updates over INSTANCES instances; the normal client reads them all."""
    payload = {"running_edge": ["e"] * 20, "graph_data": {"graphData": {"nodes": ["n" * 40] * 40}}}
    latencies: list[float] = []
    peak = rss_mb(pid)
    done = asyncio.Event()

    async def reader() -> None:
        while not done.is_set() or True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
            latencies.append(time.time() - frame["message"]["sent"])
            if frame["message"]["n"] == UPDATES - 1:
                return

    reading = asyncio.ensure_future(reader())
    started = time.monotonic()
    for n in range(UPDATES):
        message = {**payload, "task_progress": n % 100, "n": n, "sent": time.time()}
        await apublish("running_logger", "running_logger", message, key=f"pi-slow-{n % INSTANCES}")
        if n % 100 == 0:
            peak = max(peak, rss_mb(pid))
            await asyncio.sleep(0.01)
    await asyncio.wait_for(reading, 30)
    done.set()
    ms = sorted(1000 * x for x in latencies)
    result = {
        "label": label,
        "received": len(ms),
        "seconds": round(time.monotonic() - started, 2),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 1),
        "peak_rss_mb": round(max(peak, rss_mb(pid)), 1),
    }
    print(f"\n{result}")
    return result


async def keep_publishing() -> None:
    n = 0
    while True:
        n += 1
        message = {"graph_data": {"graphData": {"nodes": ["n" * 40] * 40}}, "n": -n, "sent": 0}
        await apublish("running_logger", "running_logger", message, key=f"pi-trickle-{n % 50}")
        await asyncio.sleep(0.002)


@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
async def test_stuck_clients_are_bounded_and_dropped(live_servers, settings, kind):
    settings.REALTIME = {**settings.REALTIME, "STORE": None}  # the publisher records nothing
    options = json.dumps(OPTIONS).replace("{", "{{").replace("}", "}}")
    server = live_servers.start(kind, env={"REALTIME_OPTIONS": options})
    pid = server.proc.pid
    async with plain_ws(f"{server.ws}/ws/running_logger/", max_size=None) as ws:
        await asyncio.sleep(0.5)
        idle_rss = rss_mb(pid)
        alone = await run_load(ws, pid, f"{kind}: normal client alone")

        stuck_ws = raw_websocket(server.port, "/ws/running_logger/")
        stuck_sio = raw_websocket(server.port, "/socket.io/?EIO=4&transport=websocket")
        stuck_sio.sendall(masked_text_frame("40/running_logger,"))
        await asyncio.sleep(0.5)
        with_stuck = await run_load(ws, pid, f"{kind}: with 2 stuck clients")

        # Keep updates flowing (as a running process does) until both stuck clients are
        # dropped: a stuck client costs nothing, and is not detected, until it backs up.
        trickle = asyncio.ensure_future(keep_publishing())
        try:
            closed, closed_sio = await asyncio.gather(
                asyncio.to_thread(closed_by_server, stuck_ws, 4 * STUCK_SECONDS),
                asyncio.to_thread(closed_by_server, stuck_sio, 4 * STUCK_SECONDS),
            )
        finally:
            await stop_publishing(trickle)  # gone before the loop is
        growth = with_stuck["peak_rss_mb"] - idle_rss
        print(
            f"{kind}: idle RSS {idle_rss:.1f} MB, peak growth with stuck clients {growth:.1f} MB "
            f"(bound {RSS_BOUND_MB}); stuck plain WS dropped: {closed}; "
            f"stuck socket.io: {closed_sio}"
        )
        assert with_stuck["received"] == UPDATES and alone["received"] == UPDATES
        assert growth < RSS_BOUND_MB
        # uvicorn: unchanged. daphne: measured p50 3.5-9 ms -> 9-260 ms with stuck clients (not
        # understood yet, see docs/reliability.md); bounded here, not claimed unchanged.
        slack = 50 if kind == "uvicorn" else 1000
        assert with_stuck["p50_ms"] < alone["p50_ms"] + slack
        assert closed and closed_sio
    log = server.proc.log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
