"""The process runner: walks a process graph from its start node, running each task node.

Order is deterministic (breadth-first, edges in drawing order). A node with several outgoing
edges starts every branch; a node with several incoming edges (a join) runs once all of them
are resolved. An edge may carry ``properties.condition``: true/false, or the name of a key
(``"!name"`` negates) looked up in the source node's result, then in the run params; an edge
whose condition is false is not taken, and a node none of whose incoming edges was taken is
skipped, as are the nodes after it (dead-path elimination).

Every state change is written to the database first, then published as a running_logger
update through ``realtime.publish``; a publish that fails is logged and the run goes on.
"""

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from realtime.exceptions import PublishError
from realtime.publish import publish_debug_message, publish_update

from . import snapshot, tasks
from .debugger import CONTINUE, Debugger, debug_session
from .exceptions import GraphError
from .graph import Graph, parse_graph
from .instances import create_instance
from .models import Process, ProcessInstance, TaskInstance

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[ProcessInstance, str], None]
Status, TaskStatus = ProcessInstance.Status, TaskInstance.Status


def run_process(
    process: Process,
    *,
    step_delay: float = 0.2,
    debug: bool = False,
    instance_id: str | None = None,
    params: dict[str, Any] | None = None,
    on_progress: ProgressCallback | None = None,
) -> ProcessInstance:
    """Run ``process`` to the end in this thread and return its finished instance.

    ``instance_id`` names the run (a pending instance of that id is taken over); ``params``
    override the process's default params; ``on_progress(instance, text)`` is called after
    every state change. In debug mode the run pauses at nodes with ``properties.breakpoint``.
    In either mode a "debug stop" sign (``realtime.control.debug_sign``) stops the run before
    its next node.
    """
    if step_delay < 0:
        raise ValueError(f"step_delay must be >= 0, got {step_delay}.")
    graph = parse_graph(process.graph)
    instance = create_instance(process, graph, debug=debug, instance_id=instance_id, params=params)
    # Normal runs listen too: "debug stop" is also how operators (the admin) stop any run.
    with debug_session(instance) as debugger:
        Runner(
            instance,
            graph,
            step_delay=step_delay,
            debugger=debugger,
            debug=debug,
            on_progress=on_progress,
        ).run()
    return instance


class _Stopped(Exception):
    """The user sent "debug stop"."""


class _NodeFailed(Exception):
    """A task node failed; ``error`` is what the instance records."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error = error


class Runner:
    """One walk of one instance's graph; not reusable."""

    def __init__(
        self,
        instance: ProcessInstance,
        graph: Graph,
        *,
        step_delay: float,
        debugger: Debugger | None,
        on_progress: ProgressCallback | None,
        debug: bool | None = None,
    ) -> None:
        self.instance, self.graph = instance, graph
        self.step_delay, self.debugger, self.on_progress = step_delay, debugger, on_progress
        # Breakpoints and debug messages only in debug runs; stop signs are read in every run.
        self.debug = (debugger is not None) if debug is None else debug
        self.tasks = {task.node_id: task for task in instance.tasks.all()}
        self.nodes = snapshot.nodes_by_id(instance.graph_snapshot)
        self.results: dict[str, Any] = {}
        self.arrived: dict[str, set[str]] = defaultdict(set)
        self.taken: dict[str, set[str]] = defaultdict(set)
        self._dirty: set[str] = set()  # node ids whose TaskInstance changed since the last save

    # -- the walk -------------------------------------------------------------------------

    def run(self) -> None:
        """Walk the graph and leave the instance finished, whatever happens."""
        self._changed([], "run started")
        try:
            self._walk()
        except _Stopped:
            self._finish(Status.STOPPED, "stopped by the user")
        except _NodeFailed as failed:
            self._finish(Status.FAILURE, failed.error["message"], error=failed.error)
        except KeyboardInterrupt:
            self._finish(Status.STOPPED, "interrupted")
            raise
        except Exception as exc:
            # A fault of the runner or the graph, not of a task: the run must still end.
            logger.exception("Run %s crashed", self.instance.process_instance_id)
            self._finish(Status.FAILURE, str(exc), error=tasks.error_info(exc))
        else:
            self._finish(Status.SUCCESS, "run complete")

    def _walk(self) -> None:
        ready = deque([self.graph.start_id])
        while ready:
            node_id = ready.popleft()
            incoming = self._ordered(self.taken[node_id])
            if node_id == self.graph.start_id or incoming:
                outgoing = self._run_node(node_id, incoming)
            else:
                outgoing = self._skip_node(node_id)
            for edge_id in self.graph.outgoing.get(node_id, []):
                target = self.graph.edges[edge_id]["targetNodeId"]
                self.arrived[target].add(edge_id)
                if edge_id in outgoing:
                    self.taken[target].add(edge_id)
                if len(self.arrived[target]) == len(self.graph.incoming[target]):
                    ready.append(target)
            if self.step_delay:
                time.sleep(self.step_delay)
        self._check_all_resolved()

    def _check_all_resolved(self) -> None:
        """A node reached by some but not all of its edges would never run: a cycle."""
        stuck = [n for n, edges in self.arrived.items() if len(edges) < len(self.graph.incoming[n])]
        if stuck:
            raise GraphError(
                f"Node(s) {', '.join(sorted(stuck))} wait on edges that never complete (a cycle?)."
            )

    def _ordered(self, edge_ids: set[str]) -> list[str]:
        return [edge_id for edge_id in self.graph.edges if edge_id in edge_ids]

    # -- one node -------------------------------------------------------------------------

    def _run_node(self, node_id: str, incoming: list[str]) -> list[str]:
        """Run one node and return the outgoing edges taken."""
        node, task = self.graph.nodes[node_id], self.tasks[node_id]
        self._before_node(node_id, node)
        self._set_task(node_id, TaskStatus.RUNNING, started_at=timezone.now())
        self._changed(incoming, f"{task.name} running")
        try:
            result = self._call(node_id, node)
        except Exception as exc:
            return self._fail_node(node_id, exc)
        self.results[node_id] = result
        outgoing = [e for e in self.graph.outgoing.get(node_id, []) if self._edge_taken(e, result)]
        self._set_task(node_id, TaskStatus.SUCCESS, ended_at=timezone.now(), result=result)
        self._changed(outgoing, f"{task.name} success")
        if self.debug:
            self._publish_debug(
                {
                    "task_name": task.name,
                    "node_id": node_id,
                    "status": "success",
                    "result": result,
                    "text": f"{task.name} finished.",
                }
            )
        return outgoing

    def _call(self, node_id: str, node: dict[str, Any]) -> Any:
        props = node.get("properties") or {}
        task = tasks.resolve(props)
        if task is None:
            return None
        params = props.get("params") or {}
        if not isinstance(params, dict):
            raise GraphError(f"Node {node_id!r}: properties.params must be an object.")
        context = tasks.TaskContext(
            process_instance_id=self.instance.process_instance_id,
            node_id=node_id,
            task_name=self.tasks[node_id].name,
            run_params=dict(self.instance.params),
            results=dict(self.results),
        )
        return tasks.jsonable(task(dict(params), context))

    def _fail_node(self, node_id: str, exc: Exception) -> list[str]:
        task = self.tasks[node_id]
        logger.warning("Task %s of %s failed: %s", node_id, self.instance.process_instance_id, exc)
        error = {**tasks.error_info(exc), "node_id": node_id, "task_name": task.name}
        self._set_task(node_id, TaskStatus.FAILURE, ended_at=timezone.now(), error=error)
        self._changed([], f"{task.name} failure: {exc}")
        raise _NodeFailed(error)

    def _skip_node(self, node_id: str) -> list[str]:
        self._set_task(node_id, TaskStatus.SKIPPED)
        self._changed([], f"{self.tasks[node_id].name} skipped")
        return []

    def _edge_taken(self, edge_id: str, result: Any) -> bool:
        condition = (self.graph.edges[edge_id].get("properties") or {}).get("condition")
        if condition is None or condition == "":
            return True
        if isinstance(condition, bool):
            return condition
        name = str(condition)
        negate = name.startswith("!")
        name = name.lstrip("!").strip()
        scope = result if isinstance(result, dict) and name in result else self.instance.params
        return bool(scope.get(name)) != negate

    # -- debugging ------------------------------------------------------------------------

    def _before_node(self, node_id: str, node: dict[str, Any]) -> None:
        if self.debugger is None:
            return
        if self.debugger.stop_requested():
            raise _Stopped()
        if self.debug and (node.get("properties") or {}).get("breakpoint"):
            self._pause(node_id)

    def _pause(self, node_id: str) -> None:
        """Stop at a breakpoint until the user continues (return) or stops (raise _Stopped)."""
        task = self.tasks[node_id]
        self.instance.status = Status.PAUSED
        snapshot.set_status(self.nodes[node_id], "paused")
        self._changed([], f"paused at breakpoint {task.name}")
        baseline = ProcessInstance.objects.values_list("log_seq", flat=True).get(
            pk=self.instance.pk
        )
        params = (self.graph.nodes[node_id].get("properties") or {}).get("params") or {}
        seq = self._publish_debug(
            {
                "task_name": task.name,
                "node_id": node_id,
                "status": "paused",
                "params": params,
                "text": f"Paused at breakpoint {task.name!r} ({node_id}): continue or stop.",
            }
        )
        sign = self.debugger.wait(seq or baseline)
        if sign != CONTINUE:
            raise _Stopped()
        self.instance.status = Status.RUNNING

    # -- state and publishing -------------------------------------------------------------

    def _set_task(self, node_id: str, status: str, **fields: Any) -> None:
        """Change one task in memory (saved by the next _changed) and colour its node."""
        task = self.tasks[node_id]
        task.status = status
        for name, value in fields.items():
            setattr(task, name, value)
        snapshot.set_status(self.nodes[node_id], status)
        self._dirty.add(node_id)

    def _progress(self) -> int:
        task_ids = self.graph.task_ids
        if not task_ids:
            return 0
        done = sum(
            self.tasks[n].status not in (TaskStatus.PENDING, TaskStatus.RUNNING) for n in task_ids
        )
        return min(100, done * 100 // len(task_ids))

    def _changed(self, running_edge: list[str], text: str) -> None:
        """Save the instance and changed tasks, then publish the new state."""
        instance = self.instance
        instance.running_edge = running_edge
        if not instance.is_finished:
            instance.task_progress = self._progress()
        with transaction.atomic():
            for node_id in sorted(self._dirty):
                self.tasks[node_id].save()
            instance.save(
                update_fields=[
                    "status",
                    "task_progress",
                    "running_edge",
                    "graph_snapshot",
                    "error",
                    "ended_at",
                ]
            )
        self._dirty = set()
        # Published after the commit: the store writes RunningLog in its own transaction.
        self._publish(publish_update, instance.as_update())
        if self.on_progress is not None:
            self.on_progress(instance, text)

    def _finish(self, status: str, text: str, error: dict[str, Any] | None = None) -> None:
        instance = self.instance
        # Progress counts what ran (or was skipped by a condition) before the end, not the
        # tasks a failure or stop leaves unrun.
        instance.task_progress = 100 if status == Status.SUCCESS else self._progress()
        leftover = TaskStatus.STOPPED if status == Status.STOPPED else TaskStatus.SKIPPED
        for node_id, task in self.tasks.items():
            if task.status == TaskStatus.RUNNING:
                self._set_task(node_id, TaskStatus.STOPPED)
            elif task.status == TaskStatus.PENDING:
                self._set_task(node_id, leftover)
        instance.status, instance.error, instance.ended_at = status, error, timezone.now()
        self._changed([], f"run {status}: {text}")
        if self.debug and status == Status.SUCCESS:
            self._publish_debug(
                {
                    "task_name": instance.process.name,
                    "status": status,
                    "text": "Debug run complete.",
                    "sign": "debug run complete",
                }
            )

    def _publish_debug(self, message: dict[str, Any]) -> int | None:
        return self._publish(publish_debug_message, message)

    def _publish(
        self, publish: Callable[[str, dict[str, Any]], int | None], message: dict[str, Any]
    ) -> int | None:
        try:
            return publish(self.instance.process_instance_id, message)
        except PublishError as exc:
            # The store recorded the event before the broadcast failed; viewers catch up
            # from the snapshot, so the run is worth more than this one live update.
            logger.warning("Could not publish for %s: %s", self.instance.process_instance_id, exc)
            return None
