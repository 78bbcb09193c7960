"""Operator actions on process instances: stop, re-run, re-broadcast the current state.

Each is a Django admin action (select rows in the list) and also a button on the instance
page, which posts the same action for one row.
"""

import logging
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from realtime.control import debug_sign
from realtime.exceptions import PublishError
from realtime.publish import publish_update

from .debugger import STOP
from .models import ProcessInstance
from .realtime_store import ROUTE, ProcessRunStore
from .runs import parse_step_delay, start_run

logger = logging.getLogger(__name__)


def _back(request: HttpRequest) -> HttpResponseRedirect | None:
    """Where the instance page's buttons ask to return to (a local URL only), else None."""
    target = request.POST.get("_return_to", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return HttpResponseRedirect(target)
    return None


@admin.action(description="Stop selected running runs", permissions=["stop"])
def stop_runs(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> Any:
    """Send "debug stop" (the one control path) to each selected run that has not ended."""
    stopped, skipped = [], []
    for instance in queryset:
        # Pending runs have no runner yet; a sign recorded now would be older than its start.
        if instance.status in (ProcessInstance.Status.RUNNING, ProcessInstance.Status.PAUSED):
            debug_sign(instance.process_instance_id, STOP)
            stopped.append(instance.process_instance_id)
        else:
            skipped.append(instance.process_instance_id)
    if stopped:
        modeladmin.message_user(
            request, f"Stop sent to {', '.join(stopped)}; a run stops before its next node."
        )
    if skipped:
        modeladmin.message_user(
            request, f"Not running, nothing to stop: {', '.join(skipped)}.", messages.WARNING
        )
    return _back(request)


@admin.action(description="Re-run selected runs (same process and params)", permissions=["operate"])
def rerun(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> Any:
    """Start a new run of each selected run's process, in a background thread of this server."""
    try:
        step_delay = parse_step_delay(request.POST.get("step_delay"))
    except ValueError:
        modeladmin.message_user(request, "step_delay must be a number.", messages.ERROR)
        return None
    for old in queryset.select_related("process"):
        new = start_run(
            old.process,
            step_delay=step_delay,
            debug=old.mode == ProcessInstance.Mode.DEBUG,
            params=old.params,
        )
        url = reverse("admin:orderlines_processinstance_change", args=[new.pk])
        modeladmin.message_user(
            request,
            format_html(
                'Re-run of {} started: <a href="{}" class="rerun-link">{}</a>',
                old.process_instance_id,
                url,
                new.process_instance_id,
            ),
        )
    return _back(request)


@admin.action(description="Re-broadcast current state to live clients", permissions=["view"])
def rebroadcast(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> Any:
    """Publish each selected run's stored snapshot again, e.g. for clients that missed updates."""
    store, sent = ProcessRunStore(), []
    for instance in queryset:
        state = store.snapshot(ROUTE, instance.process_instance_id)
        if state is None:  # deleted since the page was drawn
            continue
        try:
            publish_update(instance.process_instance_id, state)
        except PublishError as exc:
            modeladmin.message_user(request, f"Could not publish: {exc}", messages.ERROR)
            return _back(request)
        sent.append(instance.process_instance_id)
    modeladmin.message_user(request, f"Current state re-broadcast for {', '.join(sent) or 'none'}.")
    return _back(request)
