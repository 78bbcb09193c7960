"""The process-run HTTP API (PROTOCOL.md section 2) and the run monitor page."""

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from .models import Process, ProcessInstance
from .realtime_store import ROUTE, ProcessRunStore
from .runs import parse_step_delay, start_run

logger = logging.getLogger(__name__)


def envelope(code: int, message: str, data: Any = None) -> JsonResponse:
    """The front end's response envelope, with the HTTP status matching ``code``."""
    return JsonResponse({"code": code, "message": message, "data": data}, status=code)


@require_GET
def graph_instance(request: HttpRequest) -> JsonResponse:
    """``GET /graph/graph_instance?process_instance_id=ID``: the instance's current state."""
    instance_id = request.GET.get("process_instance_id", "").strip()
    if not instance_id:
        return envelope(400, "Query parameter process_instance_id is required.")
    # The same snapshot the realtime route answers "process start" with: one shape.
    state = ProcessRunStore().snapshot(ROUTE, instance_id)
    if state is None:
        return envelope(404, f"Unknown process_instance_id {instance_id!r}.")
    return envelope(200, "ok", state)


# How many runs the monitor lists.
RECENT_RUNS = 15
DEMO_PROCESS = "demo"


@require_GET
@ensure_csrf_cookie
def watch(request: HttpRequest) -> HttpResponse:
    """The run monitor: recent runs, a start button, and a live view over socket.io."""
    recent = ProcessInstance.objects.select_related("process").order_by("-created_at", "-id")
    context = {
        "recent": recent[:RECENT_RUNS],
        "selected": request.GET.get("instance", ""),
        # Passed on to the start button's POST, so tests (and the curious) can speed runs up.
        "step_delay": request.GET.get("step_delay", ""),
        "has_demo": Process.objects.filter(name=DEMO_PROCESS).exists(),
    }
    return render(request, "orderlines/monitor.html", context)


@require_POST
def start_demo(request: HttpRequest) -> JsonResponse:
    """``POST /runs/start``: start the demo process in a background thread; answer its id."""
    try:
        step_delay = parse_step_delay(request.POST.get("step_delay"))
    except ValueError:
        return envelope(400, "step_delay must be a number of seconds.")
    process = Process.objects.filter(name=DEMO_PROCESS).first()
    if process is None:
        return envelope(404, "No demo process: run `manage.py migrate` to create it.")
    debug = request.POST.get("debug", "") in {"1", "true", "on"}
    instance = start_run(process, step_delay=step_delay, debug=debug)
    data = {"process_instance_id": instance.process_instance_id, "mode": instance.mode}
    return envelope(200, "ok", data)
