"""One object per running event loop, for what is bound to the loop it was made on.

redis-py's asyncio clients, asyncio primitives and the hub's reader task belong to one loop.
A server process has one, but tests, ``async_to_sync`` callers and management commands run
others: each loop gets its own object, forgotten with the loop (weakly keyed).
"""

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """Holds at most one ``T`` per event loop."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )

    def current(self) -> T | None:
        """The running loop's object, if one was made."""
        return self._by_loop.get(asyncio.get_running_loop())

    def get(self, create: Callable[[], T], still_valid: Callable[[T], bool] | None = None) -> T:
        """The running loop's object; ``create()`` makes it when there is none (or no valid one)."""
        loop = asyncio.get_running_loop()
        found = self._by_loop.get(loop)
        if found is None or (still_valid is not None and not still_valid(found)):
            found = self._by_loop[loop] = create()
        return found
