"""Admin for processes and their runs; runs and logs are read-only (the runner writes them)."""

import json
import logging
from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from . import admin_actions, admin_live
from .models import Process, ProcessInstance, RunningLog, TaskInstance

logger = logging.getLogger(__name__)

# The instance page shows this many of the newest log rows; the RunningLog admin has them all.
RECENT_LOGS = 50
# The admin actions that also get a button on the instance page.
RUN_ACTIONS = {"stop_runs": "Stop run", "rerun": "Re-run", "rebroadcast": "Re-broadcast state"}


def pretty_json(value: Any) -> str:
    """``value`` as indented JSON in a <pre>, escaped, for read-only display."""
    if value is None:
        return "-"
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


def format_duration(value: timedelta | None) -> str:
    """A duration as ``1.25 s``, ``3 min 05 s`` or ``2 h 03 min``; ``-`` when unknown."""
    if value is None:
        return "-"
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class ReadOnlyMixin:
    """Rows written by the runner or the store: viewable, never added or edited here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Runs are created by the runner."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """What happened is not edited after the fact."""
        return False


@admin.register(Process)
class ProcessAdmin(admin.ModelAdmin):
    """Process definitions (editable: they are what users draw)."""

    list_display = ("name", "process_id", "description", "updated_at")
    search_fields = ("name", "process_id", "description")
    readonly_fields = ("process_id", "created_at", "updated_at", "graph_pretty")

    @admin.display(description="graph (formatted)")
    def graph_pretty(self, obj: Process) -> str:
        """The graph, indented."""
        return pretty_json(obj.graph)


class TaskInstanceInline(ReadOnlyMixin, admin.TabularInline):
    """The node runs of an instance, in the order they were created."""

    model = TaskInstance
    extra = 0
    can_delete = False
    fields = ("node_id", "name", "type", "status", "started_at", "ended_at", "result_pretty")
    readonly_fields = fields

    @admin.display(description="result / error")
    def result_pretty(self, obj: TaskInstance) -> str:
        """The error if the task failed, else its result."""
        return pretty_json(obj.error if obj.error is not None else obj.result)


@admin.register(ProcessInstance)
class ProcessInstanceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Runs: what ran, how far it got, what failed, and its latest log entries; all live.

    admin_live.js (in Media) follows /ws/running_logger/ and moves the badges, bars, graph
    and log of the instances on the page without a reload.
    """

    list_display = (
        "process_instance_id",
        "process",
        "status_badge",
        "progress",
        "started_at",
        "duration",
    )
    actions = (admin_actions.stop_runs, admin_actions.rerun, admin_actions.rebroadcast)
    change_form_template = "admin/orderlines/processinstance/change_form.html"
    list_filter = ("status", "process", "run_type", "mode", "started_at")
    search_fields = ("process_instance_id", "process__name")
    list_select_related = ("process",)
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-id")
    inlines = (TaskInstanceInline,)
    fields = (
        ("process_instance_id", "process"),
        ("status_badge", "mode", "run_type"),
        ("progress", "running_edges"),
        "run_graph",
        ("started_at", "ended_at", "duration"),
        ("runner", "log_seq"),
        "params_pretty",
        "error_pretty",
        "graph_snapshot_pretty",
        "recent_logs",
    )
    readonly_fields = (
        "process_instance_id", "process", "status_badge", "mode", "run_type", "progress",
        "running_edges", "run_graph", "started_at", "ended_at", "duration", "runner", "log_seq",
        "params_pretty", "error_pretty", "graph_snapshot_pretty", "recent_logs",
    )  # fmt: skip

    class Media:
        css = {"all": ("orderlines/live.css",)}
        js = ("orderlines/graph.js", "orderlines/admin_live.js")

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        """The instance page, with a button for each action this user may run."""
        actions = self.get_actions(request)
        extra_context = {
            **(extra_context or {}),
            "run_actions": [(name, RUN_ACTIONS[name]) for name in actions if name in RUN_ACTIONS],
        }
        return super().changeform_view(request, object_id, form_url, extra_context)

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Re-run: for users who may change runs (the rows themselves stay read-only)."""
        return request.user.has_perm("orderlines.change_processinstance")

    def has_stop_permission(self, request: HttpRequest) -> bool:
        """Stop goes the debug-sign path: the permission realtime asks for debug signs too."""
        return request.user.has_perm("orderlines.debug_processinstance")

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: ProcessInstance) -> str:
        """The status as a coloured badge (live)."""
        return admin_live.status_badge(obj)

    @admin.display(description="progress", ordering="task_progress")
    def progress(self, obj: ProcessInstance) -> str:
        """Task progress as a bar (live)."""
        return admin_live.progress_bar(obj)

    @admin.display(description="running edges")
    def running_edges(self, obj: ProcessInstance) -> str:
        """The edges being traversed now (live)."""
        return admin_live.running_edges(obj)

    @admin.display(description="run graph")
    def run_graph(self, obj: ProcessInstance) -> str:
        """The graph snapshot drawn as SVG: nodes by task status, running edges highlighted."""
        return admin_live.run_graph(obj)

    @admin.display(description="duration")
    def duration(self, obj: ProcessInstance) -> str:
        """Run time, so far if still running."""
        return format_duration(obj.duration)

    @admin.display(description="params")
    def params_pretty(self, obj: ProcessInstance) -> str:
        """Run params, indented."""
        return pretty_json(obj.params)

    @admin.display(description="error")
    def error_pretty(self, obj: ProcessInstance) -> str:
        """What failed, indented."""
        return pretty_json(obj.error)

    @admin.display(description="graph snapshot")
    def graph_snapshot_pretty(self, obj: ProcessInstance) -> str:
        """The graph with node statuses, indented."""
        nodes = len(obj.graph_snapshot.get("nodes") or [])
        return admin_live.collapsible(f"{nodes} nodes (JSON)", pretty_json(obj.graph_snapshot))

    @admin.display(description=f"latest {RECENT_LOGS} running logs (newest first)")
    def recent_logs(self, obj: ProcessInstance) -> str:
        """The newest log rows as a table; the RunningLog admin lists them all."""
        logs = list(obj.logs.order_by("-seq")[:RECENT_LOGS])
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    log.seq,
                    log.topic,
                    log.created_at.isoformat(timespec="milliseconds"),
                    admin_live.collapsible(
                        admin_live.log_summary(log.topic, log.payload), pretty_json(log.payload)
                    ),
                )
                for log in logs
            ),
        )
        # Always a table, even empty: the page prepends live rows to it.
        full_log = reverse("admin:orderlines_runninglog_changelist")
        return format_html(
            '<p><a id="full-log" href="{}?q={}">The full log of this run ({} rows)</a></p>'
            '<table id="live-log" data-instance="{}" data-last-seq="{}"><thead><tr><th>seq</th>'
            "<th>topic</th><th>at</th><th>payload</th></tr></thead><tbody>{}</tbody></table>",
            full_log,
            obj.process_instance_id,
            obj.logs.count(),
            obj.process_instance_id,
            # What the rows show, not obj.log_seq (read earlier): the page resumes after it.
            logs[0].seq if logs else 0,
            rows,
        )


@admin.register(TaskInstance)
class TaskInstanceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Node runs across all instances."""

    list_display = (
        "task_instance_id",
        "instance",
        "node_id",
        "name",
        "type",
        "status",
        "started_at",
    )
    list_filter = ("status", "type")
    search_fields = ("task_instance_id", "instance__process_instance_id", "node_id", "name")
    list_select_related = ("instance",)
    readonly_fields = ("result_pretty", "error_pretty")
    exclude = ("result", "error")

    @admin.display(description="result")
    def result_pretty(self, obj: TaskInstance) -> str:
        """The task's result, indented."""
        return pretty_json(obj.result)

    @admin.display(description="error")
    def error_pretty(self, obj: TaskInstance) -> str:
        """The task's error, indented."""
        return pretty_json(obj.error)


@admin.register(RunningLog)
class RunningLogAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The append-only event log; nothing here may be changed or deleted."""

    list_display = ("instance", "seq", "topic", "created_at")
    list_filter = ("topic",)
    search_fields = ("instance__process_instance_id",)
    list_select_related = ("instance",)
    ordering = ("-id",)
    fields = ("instance", "seq", "topic", "created_at", "payload_pretty")
    readonly_fields = fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Append-only: rows go only with their instance."""
        return False

    @admin.display(description="payload")
    def payload_pretty(self, obj: RunningLog) -> str:
        """The recorded event, indented."""
        return pretty_json(obj.payload)
