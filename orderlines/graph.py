"""Reading a LogicFlow process graph: its nodes, edges, start node and validation.

The graph is the JSON the front end draws: ``{"nodes": [...], "edges": [...]}``. Nodes carry
``id``, ``type``, ``x``, ``y``, ``text`` and ``properties``; edges carry ``id``,
``sourceNodeId``, ``targetNodeId`` and ``properties``. Task nodes name what they run in
``properties.task`` (a built-in) or ``properties.callable`` (a dotted path).
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .exceptions import GraphError

logger = logging.getLogger(__name__)


def node_text(node: dict[str, Any]) -> str:
    """The label of a node (LogicFlow stores it as a string or as ``{"value": ...}``)."""
    text = node.get("text")
    if isinstance(text, dict):
        text = text.get("value")
    return str(text) if text else str(node.get("id", ""))


def is_start(node: dict[str, Any]) -> bool:
    """Whether the node is the start event (its type contains "start")."""
    return "start" in str(node.get("type", "")).lower()


def is_end(node: dict[str, Any]) -> bool:
    """Whether the node is an end event (its type contains "end")."""
    return "end" in str(node.get("type", "")).lower()


def is_task(node: dict[str, Any]) -> bool:
    """Whether the node runs something (a built-in task or a callable), so counts for progress."""
    props = node.get("properties") or {}
    return bool(props.get("task") or props.get("callable"))


@dataclass
class Graph:
    """An indexed, validated view of a graph; the JSON itself is left untouched."""

    nodes: dict[str, dict[str, Any]]
    edges: dict[str, dict[str, Any]]
    start_id: str
    outgoing: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    incoming: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def task_ids(self) -> list[str]:
        """Ids of the nodes that count towards task progress, in drawing order."""
        return [node_id for node_id, node in self.nodes.items() if is_task(node)]


def parse_graph(data: Any) -> Graph:
    """Index ``data`` and check it can be run; raise GraphError saying what to fix."""
    if not isinstance(data, dict):
        raise GraphError("The graph must be an object with 'nodes' and 'edges' lists.")
    nodes, edges = data.get("nodes"), data.get("edges", [])
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise GraphError("The graph's 'nodes' and 'edges' must be lists.")
    by_id = _index(nodes, "node")
    edge_ids = _index(edges, "edge")
    starts = [node_id for node_id, node in by_id.items() if is_start(node)]
    if len(starts) != 1:
        raise GraphError(
            "The graph needs exactly one start node (type containing 'start'), "
            f"found {len(starts)}."
        )
    graph = Graph(nodes=by_id, edges=edge_ids, start_id=starts[0])
    for edge_id, edge in edge_ids.items():
        source, target = edge.get("sourceNodeId"), edge.get("targetNodeId")
        if source not in by_id or target not in by_id:
            raise GraphError(f"Edge {edge_id!r} joins unknown node(s) {source!r} -> {target!r}.")
        graph.outgoing[source].append(edge_id)
        graph.incoming[target].append(edge_id)
    if graph.incoming.get(graph.start_id):
        raise GraphError(f"The start node {graph.start_id!r} must have no incoming edge.")
    return graph


def _index(items: list[Any], kind: str) -> dict[str, dict[str, Any]]:
    """Items by id, refusing non-objects, missing ids and duplicates."""
    indexed: dict[str, dict[str, Any]] = {}
    for position, item in enumerate(items):
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, str) or not item_id:
            raise GraphError(f"{kind.capitalize()} #{position} has no string 'id'.")
        if item_id in indexed:
            raise GraphError(f"Duplicate {kind} id {item_id!r}.")
        indexed[item_id] = item
    return indexed
