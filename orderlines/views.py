"""The process-run HTTP API (PROTOCOL.md section 2): snapshot of one instance."""

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .realtime_store import ROUTE, ProcessRunStore

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


@require_GET
def watch(request: HttpRequest) -> HttpResponse:
    """A live view of the newest run, following the plain WebSocket route."""
    return render(request, "orderlines/watch.html")
