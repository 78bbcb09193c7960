"""realtime.batching, and the two places that use it: admission checks and recovery saves."""

import asyncio

import pytest

from realtime import admission
from realtime.batching import Batcher
from realtime.exceptions import NotAuthenticated


class Runs:
    """A run_batch that records its batches and can be held open or made to fail."""

    def __init__(self) -> None:
        self.batches: list[list] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_next = False

    async def __call__(self, items: list) -> list:
        self.batches.append(list(items))
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("down")
        return [ValueError(f"bad {i}") if i == "bad" else i * 2 for i in items]


async def test_calls_made_together_run_as_one_batch_each_with_its_own_result():
    runs = Runs()
    batcher = Batcher(runs)
    results = await asyncio.gather(
        batcher.submit(1), batcher.submit("bad"), batcher.submit(3), return_exceptions=True
    )
    assert runs.batches == [[1, "bad", 3]]
    assert results[0] == 2 and results[2] == 6
    assert isinstance(results[1], ValueError)  # only that caller's item failed


async def test_calls_during_a_batch_wait_for_it_then_run_together_in_order():
    runs = Runs()
    batcher = Batcher(runs)
    runs.gate.clear()
    first = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0.01)  # the first batch is running (held by the gate)
    later = [asyncio.ensure_future(batcher.submit(n)) for n in (2, 3)]
    await asyncio.sleep(0.01)
    assert runs.batches == [[1]]  # one batch at a time
    runs.gate.set()
    assert await first == 2
    assert [await call for call in later] == [4, 6]
    assert runs.batches == [[1], [2, 3]]


async def test_a_failed_batch_reaches_all_its_callers_and_the_next_one_runs():
    runs = Runs()
    batcher = Batcher(runs)
    runs.fail_next = True
    results = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert await batcher.submit(5) == 10


async def test_a_caller_that_gives_up_does_not_disturb_the_others():
    runs = Runs()
    batcher = Batcher(runs)
    runs.gate.clear()
    leaving = asyncio.ensure_future(batcher.submit(1))
    staying = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0.01)
    leaving.cancel()
    runs.gate.set()
    assert await staying == 4
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_items_put_wait_for_company_then_run_in_one_batch():
    runs = Runs()
    batcher = Batcher(runs, linger=0.05)
    for n in (1, 2):
        batcher.put(n)
    await asyncio.sleep(0.01)
    batcher.put(3)
    assert runs.batches == []  # still lingering
    await asyncio.sleep(0.08)
    assert runs.batches == [[1, 2, 3]]


async def test_a_caller_that_waits_takes_the_lingering_items_along_at_once():
    runs = Runs()
    batcher = Batcher(runs, linger=10.0)
    batcher.put(1)
    assert await asyncio.wait_for(batcher.submit(2), 1.0) == 4  # not after the linger
    assert runs.batches == [[1, 2]]  # in the order they came
    batcher.put(3)
    await asyncio.sleep(0.01)
    assert runs.batches == [[1, 2]]  # a new batch lingers afresh


async def test_failures_of_items_nobody_waits_for_are_logged(caplog):
    runs = Runs()
    batcher = Batcher(runs, linger=0.0)
    batcher.put("bad")
    batcher.put(1)
    await asyncio.sleep(0.02)
    runs.fail_next = True
    batcher.put(2)
    await asyncio.sleep(0.02)
    warnings = [r.getMessage() for r in caplog.records if r.name == "realtime.batching"]
    assert warnings == [
        "A queued item failed: ValueError('bad bad')",
        "1 queued item(s) failed: ConnectionError('down')",
    ]
    assert await batcher.submit(5) == 10  # and the next batch runs


def _counting_hops(monkeypatch) -> list[int]:
    """The size of each batch of checks run in the database thread."""
    hops: list[int] = []
    check_all = admission._check_all

    def counted(requests: list) -> list:
        hops.append(len(requests))
        return check_all(requests)

    monkeypatch.setattr(admission, "_check_all", counted)
    return hops


async def _connect(token: str | None = None, cookie: str | None = None):
    return await admission.admit(
        route="running_logger", address=None, token=token, cookie=cookie, key=None, agent=False
    )


@pytest.mark.django_db
async def test_connects_arriving_together_are_checked_in_one_hop(monkeypatch):
    hops = _counting_hops(monkeypatch)
    # A session cookie needs the database: its session is looked up (none here: anonymous).
    connects = [_connect(cookie="sessionid=no-such-session") for _ in range(20)]
    connects.append(_connect("not-a-token"))
    results = await asyncio.gather(*connects, return_exceptions=True)

    assert sum(hops) == 21 and len(hops) <= 2  # not one hop per connect
    assert all(isinstance(r, admission.Admission) for r in results[:20])
    assert isinstance(results[20], NotAuthenticated)  # its own answer, not the others'


@pytest.mark.django_db
async def test_connects_without_credentials_are_decided_without_the_database(monkeypatch, settings):
    hops = _counting_hops(monkeypatch)
    admitted = await _connect(cookie="csrftoken=abc")  # a cookie, but no session in it
    assert admitted.user.is_anonymous and hops == []

    settings.REALTIME = {**settings.REALTIME, "ALLOW_ANONYMOUS": False}
    with pytest.raises(NotAuthenticated):
        await _connect()
    assert hops == []  # refused without a hop too


def _anyone(user, action, route, key) -> bool:
    return True


@pytest.mark.django_db
async def test_a_policy_of_your_own_is_always_asked_in_the_database_thread(monkeypatch, settings):
    hops = _counting_hops(monkeypatch)
    settings.REALTIME = {**settings.REALTIME, "POLICY": "tests.test_batching._anyone"}
    await _connect()
    assert hops == [1]  # it may read the database, even for an anonymous connection
