"""What it costs one uvicorn process when thousands of socket.io clients leave at once.

``python bench/micro/storm.py [N ...]`` (the project's .venv, after ``bash bench/run`` has
installed bench/node): per N (default 5,000 and 10,000), a fresh server process on core 0
(orderlines.asgi on uvicorn, uvloop, compression off) takes N socket.io WebSocket clients
from a Node process on core 1, 100 handshakes in flight; then the client process is killed,
so every connection closes at once (a network blip, a proxy restart). Printed: the server's
CPU per handshake, and the CPU and wall time until it is quiet again after the storm, of
which the garbage collector's share. Side by side: socket.io on python-socketio's own
AsyncManager with a full collection every 1,000 closes (the project before 2026-11-24),
socket.io as the project serves it now (realtime/socketio/manager.py,
realtime/collector.py), and plain WebSocket clients. While a storm is being processed the
event loop serves nobody else.
"""

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = Path(__file__).with_name("storm_clients.js")
VARIANTS = {  # key -> (label, client kind)
    "before": ("socket.io, python-socketio's AsyncManager, sweep per 1,000 closes", "sio"),
    "now": ("socket.io, project", "sio"),
    "ws": ("plain WebSocket, project", "ws"),
}


def serve(variant: str, total: int, port: int) -> dict:
    """The child: one server, one storm; returns its figures."""
    os.sched_setaffinity(0, {0})
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="orderlines.settings",
        DEBUG="0",
        REALTIME_ALLOW_ANONYMOUS="1",
        REALTIME_OPTIONS='{"MAX_CONNECTIONS_PER_ADDRESS": 0}',
    )
    os.environ.pop("REDIS_URL", None)  # the in-memory layer: the storm is local work
    import django

    django.setup()
    if variant == "before":
        import socketio

        import realtime.collector
        import realtime.socketio.server

        realtime.socketio.server.IndexedManager = socketio.AsyncManager
        sweep_count = realtime.collector.connection_closed  # as if nothing stayed open:
        realtime.collector.connection_closed = lambda still_open: sweep_count(0)  # every 1,000
    import uvicorn
    import uvloop

    from orderlines.asgi import application

    gc_seconds = [0.0, 0.0]  # [total, start of the current collection]

    def timed(phase: str, info: dict) -> None:
        if phase == "start":
            gc_seconds[1] = time.perf_counter()
        else:
            gc_seconds[0] += time.perf_counter() - gc_seconds[1]

    gc.callbacks.append(timed)

    async def storm() -> dict:
        config = uvicorn.Config(
            application,
            port=port,
            ws_per_message_deflate=False,
            log_level="warning",
            lifespan="off",
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn.Server offers only this flag)
            await asyncio.sleep(0.05)
        cpu, wall = time.process_time(), time.perf_counter()
        clients = await asyncio.create_subprocess_exec(
            "taskset",
            "-c",
            "1",
            "node",
            str(CLIENTS),
            str(port),
            str(total),
            VARIANTS[variant][1],
            stdout=subprocess.PIPE,
        )
        assert (await clients.stdout.readline()).strip() == b"ready"
        out = {"setup_per_s": total / (time.perf_counter() - wall)}
        out["connect_ms"] = 1e3 * (time.process_time() - cpu) / total
        await asyncio.sleep(2)
        cpu, wall, gc_seconds[0] = time.process_time(), time.perf_counter(), 0.0
        clients.kill()
        await clients.wait()
        last, quiet = time.process_time(), 0
        while quiet < 3:  # quiet: three 0.2 s windows with under 5 ms of CPU
            await asyncio.sleep(0.2)
            now = time.process_time()
            quiet, last = (quiet + 1 if now - last < 0.005 else 0), now
        out["storm_cpu_s"] = time.process_time() - cpu
        out["storm_wall_s"] = time.perf_counter() - wall - 0.6
        out["storm_gc_s"] = gc_seconds[0]
        server.should_exit = True
        await serving
        return out

    return uvloop.run(storm())


def main() -> None:
    sizes = [int(n) for n in sys.argv[1:]] or [5000, 10000]
    print(
        f"{'variant':66s} {'N':>6s} {'setup/s':>8s} {'ms/conn':>8s} "
        f"{'storm CPU s':>11s} {'wall s':>7s} {'of it gc s':>10s}"
    )
    for total in sizes:
        for variant, (label, _) in VARIANTS.items():
            child = subprocess.run(
                [sys.executable, __file__, "--serve", variant, str(total)],
                capture_output=True,
                text=True,
                timeout=600,
            )
            try:
                r = json.loads(child.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                print(f"{label:66s} {total:6d} failed: {child.stderr.strip()[-300:]}")
                continue
            print(
                f"{label:66s} {total:6d} {r['setup_per_s']:8.0f} {r['connect_ms']:8.3f} "
                f"{r['storm_cpu_s']:11.2f} {r['storm_wall_s']:7.2f} {r['storm_gc_s']:10.2f}"
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        print(json.dumps(serve(sys.argv[2], int(sys.argv[3]), 8799)), flush=True)
    else:
        main()
