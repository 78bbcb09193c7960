"""realtime.loops.PerLoop: one object per event loop, remade when no longer valid."""

import asyncio
import gc

from realtime.loops import PerLoop


def test_one_object_per_loop_made_once():
    holder: PerLoop[list] = PerLoop()
    made = []

    async def use() -> tuple:
        first = holder.get(lambda: made.append(1) or [])
        return first, holder.get(list), holder.current()

    a, a_again, a_current = asyncio.run(use())
    b, _, _ = asyncio.run(use())
    assert a is a_again is a_current and b is not a and made == [1, 1]


def test_an_invalid_object_is_replaced():
    holder: PerLoop[dict] = PerLoop()

    async def use() -> tuple:
        old = holder.get(lambda: {"url": "redis://a"})
        new = holder.get(
            lambda: {"url": "redis://b"}, still_valid=lambda d: d["url"] == "redis://b"
        )
        return old, new, holder.get(dict, still_valid=lambda d: d["url"] == "redis://b")

    old, new, kept = asyncio.run(use())
    assert old["url"] == "redis://a" and new["url"] == "redis://b" and kept is new


def test_nothing_before_first_use_and_forgotten_with_the_loop():
    holder: PerLoop[set] = PerLoop()

    async def use() -> None:
        assert holder.current() is None
        holder.get(set)

    asyncio.run(use())
    gc.collect()
    assert len(holder._by_loop) == 0
