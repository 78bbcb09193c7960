"""Shared fixtures and graph builders for the process-domain tests.

Test modules import the helpers they use and load the fixtures with
``pytest_plugins = ["tests.fixtures_domain"]``. PYTEST_DONT_REWRITE: it holds no asserts,
and is imported before pytest registers it as a plugin.
"""

import importlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection

from orderlines.models import Process, ProcessInstance
from orderlines.runner import run_process

logger = logging.getLogger(__name__)

DEMO_MIGRATION = importlib.import_module("orderlines.migrations.0002_demo_process")

# Names of callable tasks in the order they ran (see record_call); tests clear it first.
CALLS: list[str] = []


def node(node_id: str, node_type: str = "bpmn:serviceTask", **properties: Any) -> dict[str, Any]:
    """A LogicFlow node at a made-up position."""
    position = 100 + 40 * len(node_id)
    return {
        "id": node_id,
        "type": node_type,
        "x": position,
        "y": 100,
        "text": {"x": position, "y": 100, "value": node_id.title()},
        "properties": properties,
    }


def task(node_id: str, name: str = "log", **properties: Any) -> dict[str, Any]:
    """A task node running built-in ``name`` with ``properties``."""
    properties.setdefault("params", {"message": node_id} if name == "log" else {"seconds": 0})
    return node(node_id, task=name, **properties)


def call(node_id: str, path: str = "tests.fixtures_domain.record_call", **props: Any) -> dict:
    """A task node running the callable at dotted ``path``."""
    return node(node_id, callable=path, **props)


def edge(source: str, target: str, **properties: Any) -> dict[str, Any]:
    """An edge with a readable id."""
    return {
        "id": f"e-{source}-{target}",
        "type": "bpmn:sequenceFlow",
        "sourceNodeId": source,
        "targetNodeId": target,
        "properties": properties,
    }


def graph(nodes: list[dict], edges: list[tuple[str, str]] | list[dict]) -> dict[str, Any]:
    """A graph from nodes and (source, target) pairs or edge dicts."""
    return {
        "nodes": nodes,
        "edges": [e if isinstance(e, dict) else edge(*e) for e in edges],
    }


def start() -> dict[str, Any]:
    """The start node."""
    return node("start", "bpmn:startEvent")


def end() -> dict[str, Any]:
    """The end node."""
    return node("end", "bpmn:endEvent")


def record_call(params: dict[str, Any], context: Any) -> dict[str, Any]:
    """A callable task that notes its node id in CALLS."""
    CALLS.append(context.node_id)
    return {"node": context.node_id}


def multiply(params: dict[str, Any], context: Any) -> dict[str, Any]:
    """A callable task with a real result: a * b, and what it saw of its context."""
    return {
        "product": params["a"] * params["b"],
        "instance": context.process_instance_id,
        "order_id": context.run_params.get("order_id"),
        "earlier": sorted(context.results),
    }


def returns_object(params: dict[str, Any], context: Any) -> object:
    """A callable task whose result is not JSON."""
    return object()


@pytest.fixture
def demo_process(db) -> Process:
    """The demo process of the data migration (re-created if a transactional test flushed it)."""
    DEMO_MIGRATION.create_demo_process(django_apps, None)
    return Process.objects.get(name="demo")


@pytest.fixture
def make_process(db) -> Callable[..., Process]:
    """Create a process from a graph."""

    def make(graph_data: dict[str, Any], name: str = "test-process", **fields: Any) -> Process:
        return Process.objects.create(name=name, graph=graph_data, **fields)

    return make


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"Timed out after {timeout}s waiting for {what}")


def instance_status(instance_id: str) -> str | None:
    """The stored status of an instance, or None if it does not exist yet."""
    return (
        ProcessInstance.objects.filter(process_instance_id=instance_id)
        .values_list("status", flat=True)
        .first()
    )


class RunThread(threading.Thread):
    """``run_process`` in a thread (as a server would), keeping its result or exception."""

    def __init__(self, process: Process, **kwargs: Any) -> None:
        super().__init__(daemon=True)
        self.process, self.kwargs = process, kwargs
        self.instance: ProcessInstance | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        """Run the process and close this thread's connection."""
        try:
            self.instance = run_process(self.process, **self.kwargs)
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()

    def result(self, timeout: float = 30.0) -> ProcessInstance:
        """Wait for the run to end and return its instance."""
        self.join(timeout)
        if self.is_alive():
            pytest.fail(f"Run did not finish within {timeout}s")
        if self.error is not None:
            raise self.error
        return self.instance
