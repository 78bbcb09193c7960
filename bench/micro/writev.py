"""What one broadcast frame costs to write, alone or several per connection (uvloop).

``python bench/micro/writev.py`` (the project's .venv): 1,000 loopback connections read
by a child process on the other core; the server side writes 3.4 KB frames to each, K at
a time, as separate ``write`` calls, one ``writelines`` (writev) or one joined ``write``,
and prints its CPU time per frame and connection. This is why realtime.backlog delivers
broadcasts that queued up together (see its docstring).
"""

import asyncio
import os
import selectors
import socket
import time
from collections.abc import Callable

import uvloop

CONNECTIONS, FRAME, FRAMES_PER_MODE = 1000, b"x" * 3400, 60


def drain(port: int, seconds: float, poll: float = 0.5) -> None:
    """The child: connect, then read everything until ``seconds`` have passed.

    ``poll``: how long each wait for readable sockets may block (0: spin, never sleep).
    """
    os.sched_setaffinity(0, {1})
    selector = selectors.DefaultSelector()
    for _ in range(CONNECTIONS):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    end = time.time() + seconds
    while time.time() < end:
        for key, _ in selector.select(poll):
            try:
                if not key.fileobj.recv(1 << 20):
                    selector.unregister(key.fileobj)
            except BlockingIOError:
                pass
    os._exit(0)


async def loopback_connections(
    seconds: float, reader: Callable[[int, float], None] = drain
) -> tuple[list[asyncio.Transport], int]:
    """CONNECTIONS server-side transports (this process, core 0) and the reader child's pid.

    The child (core 1) runs ``reader(port, seconds)``: by default it reads everything for
    ``seconds``. Kill and reap it when done.
    """
    transports: list[asyncio.Transport] = []
    all_in = asyncio.Event()

    class Server(asyncio.Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:
            transports.append(transport)
            if len(transports) == CONNECTIONS:
                all_in.set()

    server = await asyncio.get_running_loop().create_server(Server, "127.0.0.1", 0)
    child = os.fork()
    if child == 0:
        reader(server.sockets[0].getsockname()[1], seconds)
    os.sched_setaffinity(0, {0})
    await all_in.wait()
    server.close()  # stop listening; the accepted connections stay open
    return transports, child


async def timed_rounds(
    count: int, gap: float, frame: bytes = FRAME, reader: Callable[[int, float], None] = drain
) -> list[float]:
    """CPU ms of each of ``count`` rounds of one write of ``frame`` per connection, ``gap``
    seconds apart (as a paced broadcast writes), with ``reader`` in the child."""
    transports, child = await loopback_connections(5 + count * gap * 2, reader)
    await asyncio.sleep(1)
    spent = []
    for _ in range(count):
        cpu = time.process_time()
        for transport in transports:
            transport.write(frame)
        spent.append((time.process_time() - cpu) * 1e3)
        await asyncio.sleep(gap)
    os.kill(child, 9)
    await asyncio.to_thread(os.waitpid, child, 0)
    return spent


async def main() -> None:
    transports, child = await loopback_connections(60)
    print(f"{'K':>2}  {'write x K':>10}  {'writelines':>10}  {'join+write':>10}   us per frame")
    for k in (1, 3, 6):
        row = []
        for mode in ("write", "writelines", "join"):
            cpu = time.process_time()
            for _ in range(FRAMES_PER_MODE // k):
                frames = [FRAME] * k
                for transport in transports:
                    if mode == "write":
                        for frame in frames:
                            transport.write(frame)
                    elif mode == "writelines":
                        transport.writelines(frames)
                    else:
                        transport.write(b"".join(frames))
                await asyncio.sleep(0.02)  # let the reader keep up: buffers stay empty
            row.append((time.process_time() - cpu) / (FRAMES_PER_MODE // k * k * CONNECTIONS))
        print(f"{k:>2}  " + "  ".join(f"{v * 1e6:10.2f}" for v in row))
    os.kill(child, 9)
    await asyncio.to_thread(os.waitpid, child, 0)


if __name__ == "__main__":
    uvloop.run(main())
