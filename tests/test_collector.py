"""realtime.collector: the server's garbage-collector settings, and that garbage still goes."""

import asyncio
import gc
import weakref

import pytest

from realtime import collector
from realtime.exceptions import ImproperlyConfigured


@pytest.fixture
def fresh_collector(monkeypatch):
    """Undo what a test's tuning did to this process's collector."""
    thresholds = gc.get_threshold()
    monkeypatch.setattr(collector, "_tuned", False)
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_tuning_sets_the_thresholds_and_freezes_startup_objects(settings, fresh_collector):
    settings.REALTIME = {**settings.REALTIME, "GC_THRESHOLDS": (50_000, 20, 10)}
    gc.unfreeze()

    collector.tune_for_connections()

    assert gc.get_threshold() == (50_000, 20, 10)
    assert gc.get_freeze_count() > 1000
    gc.set_threshold(1, 1, 1)
    collector.tune_for_connections()  # once per process
    assert gc.get_threshold() == (1, 1, 1)


def test_cycles_are_still_collected_after_tuning(settings, fresh_collector):
    settings.REALTIME = {**settings.REALTIME, "GC_THRESHOLDS": (100_000, 20, 10)}
    collector.tune_for_connections()
    cycle = Node()
    gone = weakref.ref(cycle)
    del cycle

    gc.collect()

    assert gone() is None


def test_none_keeps_pythons_defaults(settings, fresh_collector):
    settings.REALTIME = {**settings.REALTIME, "GC_THRESHOLDS": None}
    gc.set_threshold(700, 10, 10)

    collector.tune_for_connections()

    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize("bad", ["100000", (1, 2, 3, 4), (-1,), (1.5, 10), ()])
def test_a_bad_value_names_the_setting(settings, fresh_collector, bad):
    settings.REALTIME = {**settings.REALTIME, "GC_THRESHOLDS": bad}
    with pytest.raises(ImproperlyConfigured, match=r'REALTIME\["GC_THRESHOLDS"\]'):
        collector.tune_for_connections()


async def test_closed_connections_trigger_a_full_collection_now_and_then(
    settings, fresh_collector, monkeypatch
):
    settings.REALTIME = {**settings.REALTIME, "GC_THRESHOLDS": (100_000, 20, 10)}
    collector.tune_for_connections()
    monkeypatch.setattr(collector, "SWEEP_AFTER_CLOSED", 3)
    monkeypatch.setattr(collector, "_closed", 0)
    cycle = Node()
    gone = weakref.ref(cycle)
    del cycle

    for _ in range(2):
        collector.connection_closed(0)
    await asyncio.sleep(0)
    assert gone() is not None  # young garbage waits for the (now rare) collection
    collector.connection_closed(0)  # the third: a full collection is scheduled
    await asyncio.sleep(0)
    assert gone() is None


async def test_no_sweeping_when_the_collector_was_left_alone(fresh_collector, monkeypatch):
    collector_calls = []
    monkeypatch.setattr(collector.gc, "collect", lambda *a: collector_calls.append(a))
    monkeypatch.setattr(collector, "SWEEP_AFTER_CLOSED", 1)
    collector.connection_closed(0)
    await asyncio.sleep(0)
    assert collector_calls == []


async def test_with_many_connections_open_a_sweep_waits_for_as_many_closes(
    settings, fresh_collector, monkeypatch
):
    # A full collection walks every live object, so while 5 are open it waits for 5 closes.
    settings.REALTIME = {**settings.REALTIME, "GC_THRESHOLDS": (100_000, 20, 10)}
    collector.tune_for_connections()
    sweeps = []
    monkeypatch.setattr(collector.gc, "collect", lambda *a: sweeps.append(a))
    monkeypatch.setattr(collector, "SWEEP_AFTER_CLOSED", 3)
    monkeypatch.setattr(collector, "_closed", 0)

    for _ in range(4):
        collector.connection_closed(5)
    await asyncio.sleep(0)
    assert sweeps == []
    collector.connection_closed(5)
    await asyncio.sleep(0)
    assert len(sweeps) == 1
