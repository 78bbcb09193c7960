"""Processes, their runs (instances), the run of each node (tasks) and the numbered running log."""

import logging
import secrets
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .exceptions import AppendOnlyError, GraphError
from .graph import parse_graph

logger = logging.getLogger(__name__)


def new_process_id() -> str:
    """A short unique process id, e.g. ``p-3f9a1c2b7d4e``."""
    return f"p-{secrets.token_hex(6)}"


def new_instance_id() -> str:
    """A process instance id that sorts by day, e.g. ``pi-20261123-9c1e44a0b2f3``."""
    return f"pi-{timezone.now():%Y%m%d}-{secrets.token_hex(6)}"


def new_task_instance_id() -> str:
    """A unique task instance id, e.g. ``ti-0b5e2d7c9a13f4e6``."""
    return f"ti-{secrets.token_hex(8)}"


def empty_graph() -> dict[str, list]:
    """A LogicFlow graph with nothing drawn yet."""
    return {"nodes": [], "edges": []}


class Process(models.Model):
    """A process definition: the LogicFlow graph users draw, with its default params."""

    process_id = models.CharField(
        max_length=40, unique=True, default=new_process_id, editable=False
    )
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True, help_text="Default run parameters.")
    config = models.JSONField(default=dict, blank=True)
    graph = models.JSONField(default=empty_graph, help_text="LogicFlow graph: nodes and edges.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        # Named in settings.REALTIME["PERMISSIONS"] (realtime.policy): act as a uia picker agent.
        permissions = [("uia_agent", "Can act as a UI-automation picker agent")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse a graph the runner could not walk."""
        try:
            parse_graph(self.graph)
        except GraphError as exc:
            raise ValidationError({"graph": str(exc)}) from exc


class ProcessInstance(models.Model):
    """One run of a process: its state, as the runner last wrote it, and its log counter."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        PAUSED = "paused"
        SUCCESS = "success"
        FAILURE = "failure"
        STOPPED = "stopped"

    class RunType(models.TextChoices):
        TRIGGER = "trigger"
        SCHEDULE = "schedule"

    class Mode(models.TextChoices):
        NORMAL = "normal"
        DEBUG = "debug"

    FINISHED = (Status.SUCCESS, Status.FAILURE, Status.STOPPED)

    process_instance_id = models.CharField(max_length=100, unique=True, default=new_instance_id)
    process = models.ForeignKey(Process, on_delete=models.PROTECT, related_name="instances")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    run_type = models.CharField(max_length=16, choices=RunType.choices, default=RunType.TRIGGER)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.NORMAL)
    params = models.JSONField(default=dict, blank=True)
    task_progress = models.PositiveSmallIntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    running_edge = models.JSONField(default=list, blank=True, help_text="Edge ids traversed now.")
    graph_snapshot = models.JSONField(
        default=empty_graph, help_text="The process graph with each node's run status."
    )
    error = models.JSONField(null=True, blank=True)
    runner = models.CharField(max_length=200, blank=True, help_text="host:pid of the runner.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Owned by ProcessRunStore.record, which bumps it under a row lock; see save().
    log_seq = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at"]
        # Named in settings.REALTIME["PERMISSIONS"] (realtime.policy): continue/stop debug runs.
        permissions = [("debug_processinstance", "Can send debug signs to a run")]
        indexes = [
            models.Index(fields=["status", "started_at"], name="orderlines_pi_status_started"),
            models.Index(fields=["process", "started_at"], name="orderlines_pi_process_started"),
            models.Index(fields=["started_at"], name="orderlines_pi_started"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(task_progress__lte=100), name="orderlines_pi_progress_0_100"
            ),
        ]

    def __str__(self) -> str:
        return self.process_instance_id

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, never writing ``log_seq`` back from this (possibly stale) copy of the row."""
        # The store increments log_seq in its own transaction; a whole-row save by the runner
        # or the admin from an older read would rewind it and make the store reuse numbers.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "log_seq"
            ]
        super().save(*args, **kwargs)

    @property
    def duration(self) -> timedelta | None:
        """How long the run took (or has taken so far); None before it starts."""
        if self.started_at is None:
            return None
        return (self.ended_at or timezone.now()) - self.started_at

    @property
    def is_finished(self) -> bool:
        """Whether the run has ended (success, failure or stopped)."""
        return self.status in self.FINISHED

    def as_update(self) -> dict[str, Any]:
        """The instance's state as a running_logger update message (PROTOCOL.md section 1)."""
        return {
            "running_edge": list(self.running_edge or []),
            "task_progress": self.task_progress,
            "graph_data": {"graphData": self.graph_snapshot},
        }


class TaskInstance(models.Model):
    """The run of one node of a process instance."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCESS = "success"
        FAILURE = "failure"
        SKIPPED = "skipped"
        STOPPED = "stopped"

    task_instance_id = models.CharField(max_length=40, unique=True, default=new_task_instance_id)
    instance = models.ForeignKey(ProcessInstance, on_delete=models.CASCADE, related_name="tasks")
    node_id = models.CharField(max_length=100)
    name = models.CharField(max_length=200, blank=True)
    type = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["instance", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "node_id"], name="orderlines_ti_unique_node"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.node_id} ({self.status})"


class RunningLogQuerySet(models.QuerySet):
    """Bulk changes are refused too, so the log stays append-only through the ORM."""

    def update(self, **kwargs: Any) -> int:
        """Refuse: running logs are append-only."""
        raise AppendOnlyError("RunningLog rows cannot be updated; append a new row instead.")

    def delete(self) -> tuple[int, dict[str, int]]:
        """Refuse: rows go only together with their process instance."""
        raise AppendOnlyError("RunningLog rows cannot be deleted; delete the process instance.")

    def prune(self, before: Any) -> int:
        """Delete rows created before ``before``: retention, the one other way rows leave.

        A client resuming from a pruned seq is told so and gets the state instead.
        """
        count, _ = models.QuerySet.delete(self.filter(created_at__lt=before))
        return count


class RunningLog(models.Model):
    """One published event of an instance, numbered 1, 2, 3… per instance without gaps.

    Append-only: written by ``ProcessRunStore.record`` and never changed; ``save()`` of an
    existing row and ``delete()`` raise AppendOnlyError. Rows are removed only by deleting
    their process instance (a database cascade).
    """

    instance = models.ForeignKey(ProcessInstance, on_delete=models.CASCADE, related_name="logs")
    seq = models.PositiveIntegerField()
    topic = models.CharField(max_length=50)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RunningLogQuerySet.as_manager()

    class Meta:
        ordering = ["instance", "seq"]
        constraints = [
            # Also the index for "logs of an instance after seq N" lookups.
            models.UniqueConstraint(fields=["instance", "seq"], name="orderlines_log_unique_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.topic}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Insert a new row; refuse to change an existing one."""
        if not self._state.adding:
            raise AppendOnlyError("RunningLog rows cannot be changed; append a new row instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Refuse: rows go only together with their process instance."""
        raise AppendOnlyError("RunningLog rows cannot be deleted; delete the process instance.")
