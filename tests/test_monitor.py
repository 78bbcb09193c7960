"""The run monitor page and its start view (the browser side is in test_browser.py)."""

import re

import pytest
from django.test import Client

from orderlines.models import ProcessInstance
from tests.fixtures_domain import instance_status, wait_for

pytest_plugins = ["tests.fixtures_domain"]
pytestmark = pytest.mark.django_db(transaction=True)


def test_page_serves_socketio_client_from_static_files(client, demo_process):
    html = client.get("/?step_delay=0.1").content.decode()
    assert '<script src="/static/socket.io-client/socket.io.min.js">' in html
    assert 'data-step-delay="0.1"' in html
    # Every script and stylesheet from this server (the icon is inline), none from a CDN.
    # (Not "cdn" anywhere in the page: the random CSRF token held those letters once in CI.)
    sources = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]*)"', html)
    assert len(sources) == 6, sources
    assert all(source.startswith(("/static/", "data:")) for source in sources), sources


def test_start_needs_csrf(demo_process):
    response = Client(enforce_csrf_checks=True).post("/runs/start")
    assert response.status_code == 403
    assert not ProcessInstance.objects.exists()


def test_start_refuses_a_bad_step_delay(client, demo_process):
    response = client.post("/runs/start", {"step_delay": "soon"})
    assert response.status_code == 400
    assert "step_delay" in response.json()["message"]


def test_start_runs_the_demo_in_the_background(client, demo_process):
    response = client.post("/runs/start", {"step_delay": "0"})
    body = response.json()
    assert response.status_code == 200 and body["code"] == 200
    instance_id = body["data"]["process_instance_id"]
    assert body["data"]["mode"] == "normal"
    wait_for(lambda: instance_status(instance_id) == "success", what="the started run")
    listed = client.get("/").content.decode()
    assert instance_id in listed
