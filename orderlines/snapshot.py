"""The graph snapshot of a run: the process graph with each node's status and colour.

The front end colours nodes from ``properties.status`` and ``properties.style`` (LogicFlow's
custom node models read their stroke and fill from there), so both travel in every update.
"""

import copy
import logging
from typing import Any

logger = logging.getLogger(__name__)

# Node colours by status, from the Ant Design palette the front end already uses.
NODE_STYLES: dict[str, dict[str, str]] = {
    "pending": {"stroke": "#8c8c8c", "fill": "#ffffff"},
    "running": {"stroke": "#1677ff", "fill": "#e6f4ff"},
    "paused": {"stroke": "#fa8c16", "fill": "#fff7e6"},
    "success": {"stroke": "#52c41a", "fill": "#f6ffed"},
    "failure": {"stroke": "#ff4d4f", "fill": "#fff1f0"},
    "skipped": {"stroke": "#d9d9d9", "fill": "#fafafa"},
    "stopped": {"stroke": "#faad14", "fill": "#fffbe6"},
}


def initial_snapshot(graph: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``graph`` with every node pending (the process definition is left untouched)."""
    snapshot = copy.deepcopy(graph)
    snapshot.setdefault("edges", [])
    for node in snapshot.get("nodes", []):
        set_status(node, "pending")
    return snapshot


def set_status(node: dict[str, Any], status: str) -> None:
    """Mark one snapshot node with ``status`` and its colour."""
    if status not in NODE_STYLES:
        raise ValueError(f"Unknown node status {status!r}; known: {', '.join(NODE_STYLES)}.")
    properties = node.get("properties")
    if not isinstance(properties, dict):
        properties = node["properties"] = {}
    properties["status"] = status
    properties["style"] = dict(NODE_STYLES[status])


def nodes_by_id(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The snapshot's node dicts by id (the same objects, so changes land in the snapshot)."""
    return {node["id"]: node for node in snapshot.get("nodes", [])}
