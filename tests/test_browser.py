"""The run monitor and the live admin in a real browser: Debian's chromium, driven by Playwright.

Screenshots go to ``artifacts/`` (gitignored; CI leaves them in the work tree).
"""

import json
import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from orderlines.models import ProcessInstance
from tests.fixtures_domain import RunThread, instance_status, wait_for
from tests.live import ROOT

pytest_plugins = ["tests.fixtures_domain"]
pytestmark = [pytest.mark.live]

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# No sandbox as root; no background traffic: this machine's network is closed.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts"
SUCCESS_FILL = "#f6ffed"  # orderlines.snapshot.NODE_STYLES["success"]
DEMO_NODES = 13
WAIT_MS = 30_000
# Browsers send an Origin: allow the server's own, as a deployment lists its site's origin.
OWN_ORIGIN = {"REALTIME_ALLOWED_ORIGINS": "http://127.0.0.1:{port}"}

ALL_NODES_SUCCEEDED = """() => {
  const nodes = [...document.querySelectorAll('#graph [data-node]')];
  return nodes.length > 0 && nodes.every((n) => n.dataset.status === 'success');
}"""
NODE_FILLS = """() => [...document.querySelectorAll('#graph [data-node]')]
  .map((n) => n.querySelector('rect, circle, polygon').getAttribute('fill'))"""


@pytest.fixture
def browser(monkeypatch):
    """A headless Debian chromium; never a downloaded browser."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver "
            "(or set CHROMIUM_PATH).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls this test makes
    # between browser steps are plain sync code, so Django's async guard does not apply.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page, 1400 px wide so the demo graph fits."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield context.new_page()
    context.close()


class SocketTrace:
    """What the page's socket.io connection carried (WebSocket frames, polling requests),
    for the message of a failed wait. Why: this test failed once in CI with the page stuck at
    a run's first state, and nothing said whether the server had sent the rest."""

    def __init__(self, page) -> None:
        self.events: list[str] = []
        page.on("websocket", self._opened)
        page.on("requestfinished", self._polled)

    def _opened(self, ws) -> None:
        self.events.append(f"websocket open {ws.url}")
        ws.on("framesent", lambda payload: self.events.append(f"ws > {_packet(payload)}"))
        ws.on("framereceived", lambda payload: self.events.append(f"ws < {_packet(payload)}"))
        ws.on("close", lambda _: self.events.append("websocket closed"))

    def _polled(self, request) -> None:
        if "/socket.io/" in request.url:
            self.events.append(f"polling {request.method} {request.url.split('?')[-1][:80]}")

    def wait(self, page, expression: str, what: str) -> None:
        """``page.wait_for_function``, failing with the last of what the socket carried."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            page.wait_for_function(expression, timeout=WAIT_MS)
        except PlaywrightTimeout:
            shot(page, "failed-wait")
            last = "\n".join(self.events[-25:])
            pytest.fail(
                f"{what} within {WAIT_MS} ms; the socket's last events "
                f"({len(self.events)} in all):\n{last}",
                pytrace=False,
            )


def _packet(payload) -> str:
    """A socket.io packet, short: an event's topic, instance, progress and last argument."""
    text = str(payload)
    head, bracket, body = text.partition("[")
    try:
        args = json.loads(bracket + body)
    except ValueError:
        return text[:100]
    event = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    fields = {
        "topic": event.get("topic"),
        "id": event.get("process_instance_id"),
        "progress": message.get("task_progress"),
        "edges": message.get("running_edge"),
        "last": args[-1] if len(args) > 2 and isinstance(args[-1], str) else None,
    }
    return head + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)


def shot(page, name: str) -> None:
    """Save a screenshot of the window under artifacts/."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_monitor_runs_the_demo_to_success(live_servers, demo_process, page):
    server = live_servers.start("daphne", env=OWN_ORIGIN)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    trace = SocketTrace(page)
    page.goto(f"{server.http}/?step_delay=0.15")
    page.wait_for_selector("#connection[data-state=connected]", timeout=WAIT_MS)
    assert page.evaluate("typeof io") == "function"  # socket.io-client from our static files

    page.click("#start-demo")
    page.wait_for_function(
        "() => document.querySelector('#graph line.edge.running') !== null", timeout=WAIT_MS
    )
    shot(page, "monitor-running")
    progress_100 = "() => document.getElementById('progress-value').textContent === '100'"
    trace.wait(page, progress_100, "the page did not show 100%")
    trace.wait(page, ALL_NODES_SUCCEEDED, "the page did not show every node succeeded")
    shot(page, "monitor-finished")

    fills = page.evaluate(NODE_FILLS)
    assert fills == [SUCCESS_FILL] * DEMO_NODES
    assert page.text_content("#run-status") == "Success"
    instance_id = page.text_content("#instance-id")
    # The page shows success from the last node's update; the run's own end follows it.
    wait_for(lambda: instance_status(instance_id) == "success", what="the run to end")
    assert errors == []


def test_monitor_debug_run_pauses_and_continues(live_servers, demo_process, page):
    server = live_servers.start("daphne", env=OWN_ORIGIN)
    page.goto(f"{server.http}/?step_delay=0.05")
    page.wait_for_selector("#connection[data-state=connected]", timeout=WAIT_MS)
    page.check("#debug-mode")
    page.click("#start-demo")
    # The demo's "Charge payment" is a breakpoint: the run waits for the user.
    page.wait_for_selector("#run-status[data-status=paused]", timeout=WAIT_MS)
    page.wait_for_selector("#debug-continue:not([disabled])", timeout=WAIT_MS)
    assert "Paused at breakpoint" in page.text_content("#debug-messages")
    shot(page, "monitor-debug-paused")
    page.click("#debug-continue")
    page.wait_for_function(ALL_NODES_SUCCEEDED, timeout=WAIT_MS)
    page.wait_for_selector("#toast:not([hidden])", timeout=WAIT_MS)  # the run's "sign"
    assert "debug run complete" in page.text_content("#toast")
    instance_id = page.text_content("#instance-id")
    wait_for(lambda: instance_status(instance_id) == "success", what="the debug run to end")


def login(page, base: str) -> None:
    """Log into the admin as the superuser the test created."""
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-for-browser-test")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name", timeout=WAIT_MS)


def signed_in_admin_with_a_run(live_servers, demo_process, page):
    """A daphne server, a superuser signed in on ``page``, and a run under way: (server,
    the run's thread, its running ProcessInstance)."""
    server = live_servers.start("daphne", env=OWN_ORIGIN)
    get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-for-browser-test")
    login(page, server.http)
    run = RunThread(demo_process, step_delay=0.4)
    run.start()
    instance = wait_for(
        lambda: ProcessInstance.objects.filter(status="running").first(),
        what="a running instance",
    )
    return server, run, instance


def test_admin_changelist_moves_live(live_servers, demo_process, page):
    server, run, instance = signed_in_admin_with_a_run(live_servers, demo_process, page)
    instance_id = instance.process_instance_id
    page.goto(f"{server.http}/admin/orderlines/processinstance/")
    bar = f'.run-progress[data-instance="{instance_id}"]'
    page.wait_for_selector(bar, timeout=WAIT_MS)
    first = int(page.get_attribute(bar, "data-progress"))
    # A marker on window: it survives only if the page is never reloaded.
    page.evaluate("() => { window.__sameDocument = true; }")
    page.wait_for_function(
        f"() => Number(document.querySelector('{bar}').dataset.progress) > {first}",
        timeout=WAIT_MS,
    )
    shot(page, "admin-changelist-running")
    page.wait_for_function(
        f"() => document.querySelector('{bar}').dataset.progress === '100' && "
        f"document.querySelector('.run-badge[data-instance=\"{instance_id}\"]')"
        ".dataset.status === 'success'",
        timeout=WAIT_MS,
    )
    assert page.evaluate("() => window.__sameDocument") is True
    shot(page, "admin-changelist-finished")
    assert run.result().status == ProcessInstance.Status.SUCCESS


def test_admin_instance_page_draws_the_run_live(live_servers, demo_process, page):
    server, run, instance = signed_in_admin_with_a_run(live_servers, demo_process, page)
    pk = instance.pk
    page.goto(f"{server.http}/admin/orderlines/processinstance/{pk}/change/")
    page.wait_for_selector("#run-graph [data-node]", timeout=WAIT_MS)
    rows_before = page.locator("#live-log tbody tr").count()
    page.wait_for_function(
        "() => document.querySelector('#run-graph line.edge.running') !== null", timeout=WAIT_MS
    )
    page.locator("#run-graph").scroll_into_view_if_needed()
    shot(page, "admin-instance-running")
    page.wait_for_function(
        """() => [...document.querySelectorAll('#run-graph [data-node]')]
             .every((n) => n.dataset.status === 'success')""",
        timeout=WAIT_MS,
    )
    # Live rows were prepended: newest first, above what the server rendered.
    assert page.locator("#live-log tbody tr").count() > rows_before
    seqs = [int(s) for s in page.locator("#live-log tbody tr td:first-child").all_text_contents()]
    assert seqs == sorted(seqs, reverse=True)
    page.locator("#live-log").scroll_into_view_if_needed()
    shot(page, "admin-instance-log")
    assert run.result().status == ProcessInstance.Status.SUCCESS
