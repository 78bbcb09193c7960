"""HTML of the admin's live widgets: status badge, progress bar, run graph; admin_live.js
updates them in place, finding them by ``data-instance``."""

import logging
from typing import Any

from django.utils.html import format_html, json_script
from django.utils.safestring import SafeString

from .models import ProcessInstance

logger = logging.getLogger(__name__)


def status_badge(instance: ProcessInstance) -> SafeString:
    """The status as a coloured badge."""
    return format_html(
        '<span class="run-badge status-{}" data-instance="{}" data-status="{}">{}</span>',
        instance.status,
        instance.process_instance_id,
        instance.status,
        instance.get_status_display(),
    )


def progress_bar(instance: ProcessInstance) -> SafeString:
    """Task progress as a bar with the percentage beside it."""
    value = instance.task_progress
    return format_html(
        '<span class="run-progress" data-instance="{}" data-progress="{}">'
        '<span class="run-progress-track"><span class="run-progress-fill{}" style="width: {}%">'
        '</span></span><span class="run-progress-text">{}%</span></span>',
        instance.process_instance_id,
        value,
        " done" if value >= 100 else "",
        value,
        value,
    )


def running_edges(instance: ProcessInstance) -> SafeString:
    """The ids of the edges being traversed now."""
    return format_html(
        '<code class="run-edges" data-instance="{}">{}</code>',
        instance.process_instance_id,
        ", ".join(instance.running_edge or []) or "-",
    )


def run_graph(instance: ProcessInstance) -> SafeString:
    """An SVG the page draws the graph snapshot into (and redraws on every live update)."""
    # The snapshot travels as a json_script (escaped for HTML), in the exact shape of a live
    # update, so the page draws the first state and later states with the same code.
    return format_html(
        '<svg class="run-graph" id="run-graph" data-instance="{}" role="img" '
        'aria-label="run graph"></svg>{}',
        instance.process_instance_id,
        json_script(instance.as_update(), "run-graph-data"),
    )


def log_summary(topic: str, payload: Any) -> str:
    """One line on what a running-log event says (admin_live.js writes the same for live rows)."""
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, dict):
        message = payload if isinstance(payload, dict) else {}
    if topic == "running_logger":
        edges = ", ".join(message.get("running_edge") or []) or "-"
        return f"progress {message.get('task_progress', '?')}%, running edges {edges}"
    if topic == "debug_message":
        return str(message.get("text") or message.get("status") or "debug message")
    return str(message.get("msg") or topic)


def collapsible(summary: str, body: str) -> SafeString:
    """``body`` (already safe HTML) folded under a one-line ``summary``."""
    return format_html("<details><summary>{}</summary>{}</details>", summary, body)
