"""The ~2 KB running_logger update every system sends: a 20-node LogicFlow graph."""

STATUSES = ["done", "done", "run", "wait"]


def graph(n: int = 20) -> dict:
    """A chain of ``n`` task nodes, as LogicFlow's graphData, status in node properties."""
    nodes = [
        {
            "id": f"n{i}",
            "type": "task",
            "x": 100 + 150 * (i % 5),
            "y": 80 + 99 * (i // 5),
            "text": f"T{i}",
            "properties": {"status": STATUSES[min(i // 5, 3)]},
        }
        for i in range(n)
    ]
    edges = [
        {"id": f"e{i}", "sourceNodeId": f"n{i}", "targetNodeId": f"n{i + 1}"} for i in range(n - 1)
    ]
    return {"nodes": nodes, "edges": edges}


def update(instance_id: str) -> dict:
    """One update envelope as the old stack emits it."""
    return {
        "topic": "running_logger",
        "process_instance_id": instance_id,
        "message": {
            "running_edge": ["e9", "e10"],
            "task_progress": 50,
            "graph_data": {"graphData": graph()},
        },
    }


if __name__ == "__main__":
    import json

    print(
        len(json.dumps(update("pi-bench-0001"), separators=(",", ":"))),
        len(json.dumps(update("pi-bench-0001"))),
    )
