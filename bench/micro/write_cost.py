"""What one write to one of 1,000 loopback sockets costs, and what does not change it.

``python bench/micro/write_cost.py`` (the project's .venv): the loopback setup of writev.py
(server side on core 0, a reader process on core 1), rounds of one write per connection 50 ms
apart, as a paced broadcast does; prints the CPU time of a round (1,000 writes), median and
best of the rounds, for

- frame sizes from 100 bytes to 16 KB (the benchmark's update is a 3.4 KB frame);
- three readers: one that sleeps in epoll between frames (as the load generator does, so
  each write may have to wake it), one that spins and never sleeps, and one that does not
  read at all during the rounds (no wake-up, the data waits in its receive buffers);
- a bare system call, for scale.

Why: the benchmark's latency phase (1,000 clients, 20 updates/s) has a p99 of roughly one
update's fan-out, and that fan-out is mostly these writes. If their cost did not depend on
the frame's size or on waking the reader, neither a smaller frame (a shared compressed one)
nor batching wake-ups could shorten it; only fewer writes could.

``--calibrate``: only the 3.4 KB rounds, as one JSON line; ``bench/run.py`` runs it before
and after the systems, so a run's table says how fast the machine's writes were that hour.
"""

import json
import os
import socket
import statistics
import sys
import time

import uvloop
import writev

ROUNDS, GAP = 15, 0.05
SIZES = (100, 800, 3_400, 16_000)


def sleeping_reader(port: int, seconds: float) -> None:
    """Connect, then sleep through the rounds: nothing is read, nobody waits in epoll.

    15 rounds of 3.4 KB stay far below a loopback socket's receive buffer, so no write waits.
    """
    os.sched_setaffinity(0, {1})
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(writev.CONNECTIONS)]
    time.sleep(seconds)
    del held
    os._exit(0)


def spinning_reader(port: int, seconds: float) -> None:
    """Read everything without ever sleeping: a write never has to wake this reader."""
    writev.drain(port, seconds, poll=0)


async def rounds(frame: bytes, reader=writev.drain) -> list[float]:
    """CPU ms of each round of one write of ``frame`` per connection, GAP apart."""
    return await writev.timed_rounds(ROUNDS, GAP, frame, reader)


def row(label: str, spent: list[float]) -> str:
    return f"{label:<40} {statistics.median(spent):8.1f} {min(spent):8.1f}"


def syscall_us(count: int = 200_000) -> float:
    """Microseconds of one getppid() (a system call that does nothing), loop overhead off."""
    started = time.perf_counter()
    for _ in range(count):
        os.getppid()
    with_call = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(count):
        pass
    return (with_call - (time.perf_counter() - started)) / count * 1e6


async def main() -> None:
    print(f"{'1,000 writes, CPU ms per round':<40} {'median':>8} {'best':>8}")
    for size in SIZES:
        print(row(f"{size:,} B frame, reader sleeps in epoll", await rounds(b"x" * size)))
    frame = b"x" * 3_400
    print(row("3,400 B frame, reader spins", await rounds(frame, spinning_reader)))
    print(row("3,400 B frame, reader does not read", await rounds(frame, sleeping_reader)))
    print(f"one bare system call: {syscall_us():.2f} us")
    sys.stdout.flush()


async def calibrate() -> None:
    """One JSON line: this hour's cost of a paced update's bare fan-out (bench/run.py)."""
    spent = await rounds(b"x" * 3_400)
    print(json.dumps({"median_ms": statistics.median(spent), "best_ms": min(spent)}))


if __name__ == "__main__":
    uvloop.run(calibrate() if sys.argv[1:] == ["--calibrate"] else main())
