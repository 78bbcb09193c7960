"""Shared by every Python publisher (stdlib only: it runs in bench/.env and in the project's venv).

A publisher reads the payload file, stamps ``message.bench = {"t": µs, "seq": n}`` on each
update, sends COUNT updates at RATE per second (0: as fast as it can) through its system's own
"emit from another process" call, and prints one JSON line of totals.
"""

import asyncio
import json
import os
import sys
import time


def args() -> tuple[str, dict, int, float]:
    """argv: REDIS_URL PAYLOAD_JSON COUNT RATE."""
    url, path, count, rate = sys.argv[1:5]
    with open(path) as fh:
        payload = json.load(fh)
    return url, payload, int(count), float(rate)


def stamp(payload: dict, seq: int) -> dict:
    """A copy of ``payload`` carrying its publish time and sequence number."""
    message = dict(payload["message"], bench={"t": time.time_ns() // 1000, "seq": seq})
    return dict(payload, message=message)


def report(count: int, start: float) -> None:
    cpu = os.times()
    print(
        json.dumps(
            {"sent": count, "secs": time.monotonic() - start, "cpu_s": cpu.user + cpu.system}
        ),
        flush=True,
    )


# Sent once, unmarked, before the measured updates: a Python publisher opens its connections
# (Redis pools, the database, worker threads) on its first call, as the Node publisher does
# with its explicit connect() before its timer starts. The load generator counts it as
# "other", not as an update.
WARM_UP_PAUSE = 0.5
# After the last paced update, before exiting: the publisher runs on the load generator's core,
# and its interpreter's teardown there delayed the last update's recipients (measured: the
# last of 60 updates reached its last client 18.1-19.5 ms after its publish, the median
# update 9.5-12.7 ms).
LINGER = 0.5


async def apublish_loop(send, payload: dict, count: int, rate: float) -> None:
    """Await ``send(update)`` COUNT times, paced at RATE per second."""
    await send(payload)
    await asyncio.sleep(WARM_UP_PAUSE)
    start = time.monotonic()
    for seq in range(count):
        if rate > 0:
            await asyncio.sleep(max(0.0, start + seq / rate - time.monotonic()))
        await send(stamp(payload, seq))
    report(count, start)
    if rate > 0:
        await asyncio.sleep(LINGER)


def publish_loop(send, payload: dict, count: int, rate: float) -> None:
    """Call ``send(update)`` COUNT times, paced at RATE per second."""
    send(payload)
    time.sleep(WARM_UP_PAUSE)
    start = time.monotonic()
    for seq in range(count):
        if rate > 0:
            time.sleep(max(0.0, start + seq / rate - time.monotonic()))
        send(stamp(payload, seq))
    report(count, start)
    if rate > 0:
        time.sleep(LINGER)
