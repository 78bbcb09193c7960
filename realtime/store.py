"""The small interface through which realtime records and reads run state it does not own.

The realtime app knows no model of the project that uses it; ``settings.REALTIME['STORE']``
names a class implementing :class:`RunStore`. Methods are synchronous (they hit the
database) and are called from a thread by the async code.
"""

import logging
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class RunStore(Protocol):
    """What realtime needs from the project's persistence."""

    def record(self, route: str, key: str, topic: str, event: dict[str, Any]) -> int | None:
        """Append one published event for ``key`` and return its per-key sequence number.

        Return None for events the store does not keep (e.g. a route it does not log).
        Raise ``realtime.exceptions.UnknownKey`` when ``key`` names nothing the store knows.
        """

    def current(self, route: str, key: str) -> tuple[dict[str, Any], int] | None:
        """The current state and the seq of the newest event it reflects; None if unknown."""

    def events_after(
        self, route: str, key: str, after_seq: int, limit: int
    ) -> list[tuple[int, str, dict[str, Any]]] | None:
        """(seq, topic, event) of the events after ``after_seq``, in order.

        None when that range cannot be replayed whole (pruned, or more than ``limit``);
        raise ``UnknownKey`` for an unknown ``key``.
        """
