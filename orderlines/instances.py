"""Creating the instance of a run: the ProcessInstance row and one TaskInstance per node."""

import logging
import os
import socket
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import snapshot
from .exceptions import RunError
from .graph import Graph, node_text
from .models import Process, ProcessInstance, TaskInstance, new_instance_id

logger = logging.getLogger(__name__)


def runner_identity() -> str:
    """``host:pid`` of this process, stored on the instances it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


@transaction.atomic
def create_instance(
    process: Process,
    graph: Graph,
    *,
    debug: bool = False,
    instance_id: str | None = None,
    params: dict[str, Any] | None = None,
) -> ProcessInstance:
    """A running instance of ``process`` with every node pending.

    ``instance_id`` may name a pending instance of the same process (created by whoever
    queued the run), which is taken over; any other existing instance is refused.
    """
    instance = ProcessInstance.objects.filter(process_instance_id=instance_id).first()
    if instance is not None and (
        instance.status != ProcessInstance.Status.PENDING or instance.process_id != process.pk
    ):
        raise RunError(
            f"process_instance_id {instance_id!r} is already used ({instance.status} run of "
            f"process {instance.process.name!r}); pass a new id."
        )
    if instance is None:
        instance = ProcessInstance(
            process=process, process_instance_id=instance_id or new_instance_id()
        )
    instance.params = {**process.params, **(instance.params or {}), **(params or {})}
    instance.mode = ProcessInstance.Mode.DEBUG if debug else ProcessInstance.Mode.NORMAL
    instance.status, instance.task_progress, instance.running_edge = (
        ProcessInstance.Status.RUNNING,
        0,
        [],
    )
    instance.graph_snapshot = snapshot.initial_snapshot(process.graph)
    instance.runner, instance.started_at, instance.error = runner_identity(), timezone.now(), None
    instance.save()
    instance.tasks.all().delete()
    TaskInstance.objects.bulk_create(
        TaskInstance(
            instance=instance,
            node_id=node_id,
            name=node_text(node)[:200],
            type=str(node.get("type", ""))[:50],
        )
        for node_id, node in graph.nodes.items()
    )
    return instance
