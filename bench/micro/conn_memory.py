"""Where an idle connection's memory goes: Python heap per connection, by file and by line.

``python bench/micro/conn_memory.py [sio|ws] [N]`` (the project's .venv; needs
``bench/node/node_modules``): the project's ASGI app under uvicorn (WebSocket compression
off) in this process with tracemalloc on, the benchmark's load generator opening N (default
1,000) socket.io or plain WebSocket clients after 200 warm-up ones; prints the heap the N
added, per connection, grouped by the file, then by the line, that allocated it. Why: the
benchmark's RSS figure says how much, this says whose (it is how realtime/parking.py,
realtime/socketio/writer.py and the slotted per-connection objects were found). SQLite and
the in-memory channel layer (a temporary database); the asyncio loop, not uvloop, so its
transports show up as asyncio's.
"""

import asyncio
import gc
import json
import linecache
import os
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOADGEN = ROOT / "bench" / "node" / "loadgen.js"
WARM_UP = 200
SHOWN = 30  # lines of each table


def configure(database: str) -> None:
    """Environment of the project, as the benchmark sets it, before Django is imported."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "orderlines.settings",
            "DEBUG": "0",
            "SQLITE_PATH": database,
            "REALTIME_ALLOW_ANONYMOUS": "1",
            "REALTIME_OPTIONS": '{"MAX_CONNECTIONS_PER_ADDRESS": 0}',
        }
    )
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))


async def command(generator: asyncio.subprocess.Process, message: dict) -> dict:
    """One command to the load generator and its reply."""
    generator.stdin.write((json.dumps(message) + "\n").encode())
    await generator.stdin.drain()
    return json.loads(await generator.stdout.readline())


async def connect(generator: asyncio.subprocess.Process, url: str, mode: str, n: int) -> None:
    reply = await command(
        generator,
        {"cmd": "connect", "url": url, "mode": mode, "n": n, "window": 50, "deflate": False},
    )
    if reply.get("ok") != n:
        raise SystemExit(f"only {reply.get('ok')} of {n} clients connected: {reply}")
    await asyncio.sleep(2)  # let the handshakes' garbage go
    gc.collect()


def report(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, n: int) -> None:
    """Heap added per connection, by file and by line."""
    total = sum(diff.size_diff for diff in after.compare_to(before, "filename"))
    print(f"heap per connection: {total / n / 1024:.2f} KiB")
    for key in ("filename", "lineno"):
        print(f"\n   bytes  objects  by {key}")
        for diff in after.compare_to(before, key)[:SHOWN]:
            frame = diff.traceback[0]
            where = frame.filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
            if key == "lineno":
                line = linecache.getline(frame.filename, frame.lineno).strip()[:60]
                where = f"{where}:{frame.lineno}  {line}"
            print(f"{diff.size_diff / n:8.0f} {diff.count_diff / n:8.2f}  {where}")


async def measure(application: object, mode: str, n: int) -> None:
    import uvicorn

    config = uvicorn.Config(
        application, port=0, ws_per_message_deflate=False, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve())
    for _ in range(200):  # uvicorn offers no event for "listening"; poll its flag
        if server.started:
            break
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"ws://127.0.0.1:{port}" + ("" if mode == "sio" else "/ws/running_logger/")
    generator = await asyncio.create_subprocess_exec(
        "node", str(LOADGEN), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        await connect(generator, url, mode, WARM_UP)  # the process's one-off allocations
        before = tracemalloc.take_snapshot()
        await connect(generator, url, mode, n)
        after = tracemalloc.take_snapshot()
        ignored = [tracemalloc.Filter(False, tracemalloc.__file__)]
        report(before.filter_traces(ignored), after.filter_traces(ignored), n)
    finally:
        generator.kill()
        await generator.wait()
        server.should_exit = True
        await serving


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "sio"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    if mode not in ("sio", "ws"):
        raise SystemExit("usage: conn_memory.py [sio|ws] [N]")
    with tempfile.TemporaryDirectory() as scratch:
        configure(str(Path(scratch) / "db.sqlite3"))
        tracemalloc.start(1)
        from django.core.management import call_command

        from orderlines.asgi import application  # sets Django up

        call_command("migrate", verbosity=0)  # outside the event loop: Django's ORM is sync
        asyncio.run(measure(application, mode, n))


if __name__ == "__main__":
    main()
