"""realtime.recovery on the real Redis: a connection storm shares reads and batches writes."""

import asyncio

import pytest
import redis

from realtime import recovery


def command_calls(url: str, command: str) -> int:
    """How many times Redis ran ``command`` since it started (INFO commandstats)."""
    stats = redis.Redis.from_url(url).info("commandstats")
    return stats.get(f"cmdstat_{command}", {}).get("calls", 0)


@pytest.fixture
def store(redis_url):
    return recovery.RedisRecovery(redis_url)


async def test_concurrent_saves_are_all_kept_in_few_round_trips(store, redis_url):
    pipelines = []
    real_pipeline = store.client.pipeline
    store.client.pipeline = lambda **kw: pipelines.append(kw) or real_pipeline(**kw)
    before = command_calls(redis_url, "set")
    states = {f"pid-{i}": {"route": "running_logger", "keys": [f"pi-{i}"]} for i in range(200)}

    await asyncio.gather(*(store.save_session(pid, state) for pid, state in states.items()))

    assert len(pipelines) == 1  # all 200 saves were issued in one loop turn: one round trip
    for pid, state in states.items():
        assert await store.load_session(pid) == state
    assert command_calls(redis_url, "set") - before == 200  # every save was written
    ttl = redis.Redis.from_url(redis_url).ttl(f"{store.prefix}:session:pid-7")
    assert 0 < ttl <= 120


async def test_a_later_save_of_a_session_wins(store):
    first = asyncio.ensure_future(store.save_session("pid-x", {"n": 1}))
    await asyncio.sleep(0)  # the first batch is being written when the second save comes
    second = asyncio.ensure_future(store.save_session("pid-x", {"n": 2}))
    third = asyncio.ensure_future(store.save_session("pid-x", {"n": 3}))
    await asyncio.gather(first, second, third)

    assert await store.load_session("pid-x") == {"n": 3}


async def test_saves_nobody_waits_for_land_together_shortly_after(store, redis_url):
    pipelines = []
    real_pipeline = store.client.pipeline
    store.client.pipeline = lambda **kw: pipelines.append(kw) or real_pipeline(**kw)
    for i in range(5):
        store.save_session_soon(f"soon-{i}", {"i": i})
        await asyncio.sleep(0.001)  # connects a millisecond apart
    assert pipelines == []  # nothing written yet: they wait for company
    await asyncio.sleep(recovery.SAVE_LINGER_SECONDS + 0.05)

    assert len(pipelines) == 1  # one round trip for the five
    assert [await store.load_session(f"soon-{i}") for i in range(5)] == [{"i": i} for i in range(5)]


async def test_a_waited_save_after_one_nobody_waits_for_wins_and_is_not_held_up(store):
    store.save_session_soon("pid-y", {"n": 1})
    await asyncio.wait_for(store.save_session("pid-y", {"n": 2}), recovery.SAVE_LINGER_SECONDS)
    assert await store.load_session("pid-y") == {"n": 2}


async def test_a_failed_write_reaches_its_callers_and_the_next_batch_still_works(redis_url):
    broken = recovery.RedisRecovery("redis://127.0.0.1:1/0")  # nothing listens on port 1
    with pytest.raises(redis.exceptions.ConnectionError):
        await asyncio.gather(*(broken.save_session(f"p{i}", {"i": i}) for i in range(3)))
    assert broken._session_writes._open is None  # nothing left waiting for a dead writer

    store = recovery.RedisRecovery(redis_url)
    await store.save_session("after", {"ok": True})
    assert await store.load_session("after") == {"ok": True}


async def test_concurrent_offset_reads_share_one_xrevrange(store, redis_url):
    await store.append("running_logger", {"event": "{}", "seq": 1, "key": "pi-1"})
    newest = await store.append("running_logger", {"event": "{}", "seq": 2, "key": "pi-1"})
    before = command_calls(redis_url, "xrevrange")

    offsets = await asyncio.gather(*(store.last_offset("running_logger") for _ in range(50)))

    assert set(offsets) == {newest}
    assert command_calls(redis_url, "xrevrange") - before == 1
    # Shortly after it, callers still share it: an older offset starts their window earlier.
    newer = await store.append("running_logger", {"event": "{}", "seq": 3, "key": "pi-1"})
    assert await store.last_offset("running_logger") == newest
    assert command_calls(redis_url, "xrevrange") - before == 1
    # After that, the next caller reads afresh and sees newer entries.
    await asyncio.sleep(recovery.OFFSET_REUSE_SECONDS + 0.02)
    assert await store.last_offset("running_logger") == newer


async def test_a_failed_offset_read_is_not_reused(store, monkeypatch):
    real = store._newest_id

    async def fail_once(route: str) -> str:
        monkeypatch.setattr(store, "_newest_id", real)
        raise redis.exceptions.ConnectionError("down")

    newest = await store.append("running_logger", {"event": "{}", "seq": 1, "key": "pi-1"})
    monkeypatch.setattr(store, "_newest_id", fail_once)
    with pytest.raises(redis.exceptions.ConnectionError):
        await store.last_offset("running_logger")
    await asyncio.sleep(0)  # the failed read is forgotten on the next loop turn
    assert await store.last_offset("running_logger") == newest  # read afresh


async def test_a_publisher_cancelled_as_its_redis_write_completes_stops(monkeypatch, settings):
    # Python 3.11's asyncio.wait_for returns its result instead of raising when a cancel
    # arrives as the awaitable it wraps completes (CPython gh-86296), and redis-py writes
    # under wait_for when the pool has a socket_timeout: the recovery store's had one, and a
    # cancelled publisher went on publishing (test_slow_client hung on it once in CI).
    from realtime.publish import apublish

    settings.REALTIME = {**settings.REALTIME, "STORE": None}
    armed: dict[str, asyncio.Task] = {}
    real_drain = asyncio.StreamWriter.drain

    async def drain_then_cancel(writer: asyncio.StreamWriter) -> None:
        await real_drain(writer)
        task = armed.pop("task", None)
        if task is not None:  # the cancel lands as the write completes
            asyncio.get_running_loop().call_soon(task.cancel)

    async def publish_forever() -> None:
        while True:
            await apublish("running_logger", "running_logger", {"n": 1}, key="pi-cancel")

    await apublish("running_logger", "running_logger", {"n": 0}, key="pi-cancel")  # connect
    monkeypatch.setattr(asyncio.StreamWriter, "drain", drain_then_cancel)
    publisher = asyncio.ensure_future(publish_forever())
    armed["task"] = publisher
    done, _ = await asyncio.wait([publisher], timeout=5)
    publisher.cancel()  # a swallowed cancel would leave it publishing: stop it either way
    await asyncio.wait([publisher], timeout=5)
    assert "task" not in armed, "no Redis write happened after the publisher started"
    assert done, "the publisher went on publishing after its cancel"


async def test_a_redis_that_never_answers_times_out(monkeypatch):
    # Without a socket timeout on the pool (above), asyncio.timeout bounds every command.
    async def accept_and_stay_silent(reader, writer) -> None:
        while await reader.read(1 << 16):  # read what comes, answer nothing, until closed
            pass
        writer.close()

    silent = await asyncio.start_server(accept_and_stay_silent, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    monkeypatch.setattr(recovery, "REDIS_TIMEOUT", 0.5)
    store = recovery.RedisRecovery(f"redis://127.0.0.1:{port}/0")
    try:
        for call in (
            store.append("running_logger", {"key": "k", "seq": None, "event": {}}),
            store.last_offset("running_logger"),
            store.save_session("pid-1", {"route": "running_logger"}),
            store.load_session("pid-1"),
            store.since("running_logger", (0, 0)),
        ):
            started = asyncio.get_running_loop().time()
            with pytest.raises(TimeoutError):
                await call
            assert asyncio.get_running_loop().time() - started < 2
    finally:
        silent.close()
        await store.client.aclose(close_connection_pool=True)
