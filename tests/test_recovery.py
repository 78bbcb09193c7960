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
    # Once that read is over, the next caller reads afresh and sees newer entries.
    newer = await store.append("running_logger", {"event": "{}", "seq": 3, "key": "pi-1"})
    assert await store.last_offset("running_logger") == newer
