"""A small in-memory RunStore for testing the realtime app on its own (it knows no models)."""

import threading
from typing import Any

from realtime.exceptions import UnknownKey


class MemoryStore:
    """Keeps instances and their numbered events in a class-level dict (one per test run)."""

    instances: dict[str, dict[str, Any]] = {}
    events: dict[str, list[tuple[int, str, dict]]] = {}
    pruned_through: dict[str, int] = {}
    _lock = threading.Lock()

    @classmethod
    def add_instance(cls, key: str, state: dict[str, Any] | None = None) -> None:
        """Make ``key`` known, with its current state."""
        cls.instances[key] = state or {
            "running_edge": [],
            "task_progress": 0,
            "graph_data": {"graphData": {"nodes": [], "edges": []}},
        }
        cls.events[key] = []

    def record(self, route: str, key: str, topic: str, event: dict[str, Any]) -> int | None:
        """Number the event per key; unknown keys raise UnknownKey like a real store."""
        if route != "running_logger":
            return None
        with self._lock:
            if key not in self.instances:
                raise UnknownKey(f"Unknown running_logger id {key!r}.")
            log = self.events[key]
            log.append((len(log) + 1, topic, event))
            return len(log)

    def snapshot(self, route: str, key: str) -> dict[str, Any] | None:
        """The stored state of ``key``."""
        return self.instances.get(key) if route == "running_logger" else None

    def current(self, route: str, key: str) -> tuple[dict[str, Any], int] | None:
        """The stored state and the newest seq of ``key``."""
        state = self.snapshot(route, key)
        return None if state is None else (state, len(self.events.get(key, [])))

    def events_after(self, route: str, key: str, after_seq: int, limit: int) -> list | None:
        """Events after ``after_seq``; None when ``pruned`` says they are gone or too many."""
        if key not in self.instances:
            raise UnknownKey(f"Unknown running_logger id {key!r}.")
        log = self.events[key]
        rows = [row for row in log if row[0] > after_seq]
        if after_seq < self.pruned_through.get(key, 0) or len(rows) > limit or after_seq > len(log):
            return None
        return rows
