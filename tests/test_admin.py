"""Admin: changelists, search, filters, and the read-only instance page with its logs."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orderlines.models import Process, ProcessInstance, RunningLog, TaskInstance
from orderlines.realtime_store import ProcessRunStore
from tests.fixtures_domain import end, graph, start, task

pytest_plugins = ["tests.fixtures_domain"]
pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:orderlines_processinstance_changelist")


@pytest.fixture
def processes(make_process):
    simple = graph([start(), task("a"), end()], [("start", "a"), ("a", "end")])
    return make_process(simple, name="billing"), make_process(simple, name="shipping")


def make_instance(process, instance_id, status, *, days_ago=0, **fields):
    started = timezone.now() - timedelta(days=days_ago, seconds=90)
    return ProcessInstance.objects.create(
        process=process,
        process_instance_id=instance_id,
        status=status,
        started_at=started,
        ended_at=started + timedelta(seconds=75),
        graph_snapshot=process.graph,
        **fields,
    )


@pytest.fixture
def instances(processes):
    billing, shipping = processes
    failed = make_instance(
        billing, "pi-admin-failed", "failure", task_progress=42, params={"order_id": "SO-77"},
        error={"node_id": "a", "message": "card <declined>"},
    )  # fmt: skip
    TaskInstance.objects.create(instance=failed, node_id="a", name="Charge card", status="failure")
    ok = make_instance(shipping, "pi-admin-ok", "success", task_progress=100, mode="debug")
    old = make_instance(billing, "pi-admin-old", "success", days_ago=30, run_type="schedule")
    return {"failed": failed, "ok": ok, "old": old}


def listed(response):
    """Instance ids shown in a changelist page."""
    html = response.content.decode()
    return {i for i in ("pi-admin-failed", "pi-admin-ok", "pi-admin-old") if i in html}


def test_changelist_shows_columns(admin_client, instances):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert listed(response) == {"pi-admin-failed", "pi-admin-ok", "pi-admin-old"}
    for text in ("billing", "shipping", "42%", "100%", "1 min 15 s", "Failure"):
        assert text in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("pi-admin-failed", {"pi-admin-failed"}),
        ("shipping", {"pi-admin-ok"}),
        ("billing", {"pi-admin-failed", "pi-admin-old"}),
        ("nothing-like-it", set()),
    ],
)
def test_search_by_instance_id_and_process_name(admin_client, instances, query, expected):
    response = admin_client.get(CHANGELIST, {"q": query})
    assert response.status_code == 200
    assert listed(response) == expected


def test_each_filter(admin_client, instances, processes):
    # What the admin's own "Past 7 days" link sends: aware midnights.
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    cases = [
        ({"status__exact": "failure"}, {"pi-admin-failed"}),
        ({"status__exact": "success"}, {"pi-admin-ok", "pi-admin-old"}),
        ({"process__id__exact": processes[1].pk}, {"pi-admin-ok"}),
        ({"run_type__exact": "schedule"}, {"pi-admin-old"}),
        ({"mode__exact": "debug"}, {"pi-admin-ok"}),
        (
            {"started_at__gte": str(today - timedelta(days=6)),
             "started_at__lt": str(today + timedelta(days=1))},
            {"pi-admin-failed", "pi-admin-ok"},
        ),
    ]  # fmt: skip
    for params, expected in cases:
        response = admin_client.get(CHANGELIST, params)
        assert response.status_code == 200, params
        assert listed(response) == expected, params


def test_changelist_queries_do_not_grow_with_rows(admin_client, processes):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(queries)

    for i in range(2):
        make_instance(processes[i % 2], f"pi-n-{i}", "success")
    few = count_queries()
    for i in range(2, 12):
        make_instance(processes[i % 2], f"pi-n-{i}", "success")
    assert count_queries() == few


def test_instance_page_shows_tasks_json_and_latest_logs(admin_client, instances):
    failed = instances["failed"]
    store = ProcessRunStore()
    for i in range(1, 61):
        store.record("running_logger", failed.process_instance_id, "running_logger", {"step": i})
    url = reverse("admin:orderlines_processinstance_change", args=[failed.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Charge card" in html  # the task inline
    assert "&quot;order_id&quot;: &quot;SO-77&quot;" in html  # params, pretty JSON
    assert "card &lt;declined&gt;" in html  # error, escaped
    assert "&quot;nodes&quot;: [" in html  # graph snapshot, indented
    assert "&quot;step&quot;: 60" in html and "&quot;step&quot;: 11" in html
    assert "&quot;step&quot;: 10\n" not in html  # only the latest 50
    assert html.index("&quot;step&quot;: 60") < html.index("&quot;step&quot;: 59")  # newest first
    assert 'name="_save"' not in html  # read-only
    # The full log is one link away: every row of this run, and only this run's.
    assert "The full log of this run (60 rows)" in html
    full = admin_client.get(
        reverse("admin:orderlines_runninglog_changelist"),
        {"q": failed.process_instance_id, "all": ""},
    )
    assert full.status_code == 200
    assert "60 running logs" in full.content.decode()


def test_runs_cannot_be_added_in_the_admin(admin_client):
    response = admin_client.get(reverse("admin:orderlines_processinstance_add"))
    assert response.status_code == 403


def test_process_admin_pages(admin_client, processes):
    billing = processes[0]
    response = admin_client.get(reverse("admin:orderlines_process_changelist"), {"q": "bill"})
    assert response.status_code == 200
    assert "billing" in response.content.decode()
    assert "shipping" not in response.content.decode()
    page = admin_client.get(reverse("admin:orderlines_process_change", args=[billing.pk]))
    assert page.status_code == 200
    assert billing.process_id in page.content.decode()
    demo = Process.objects.get(name="demo")
    page = admin_client.get(reverse("admin:orderlines_process_change", args=[demo.pk]))
    assert "Charge payment" in page.content.decode()


def test_process_admin_refuses_a_bad_graph(admin_client, processes):
    url = reverse("admin:orderlines_process_change", args=[processes[0].pk])
    response = admin_client.post(
        url, {"name": "billing", "description": "", "params": "{}", "config": "{}",
              "graph": '{"nodes": [], "edges": []}'},
    )  # fmt: skip
    assert response.status_code == 200  # the form again, with the error
    assert "exactly one start node" in response.content.decode()


def test_task_instance_admin(admin_client, instances):
    task_instance = TaskInstance.objects.get(node_id="a", instance=instances["failed"])
    task_instance.result = {"charged": False}
    task_instance.save()
    response = admin_client.get(
        reverse("admin:orderlines_taskinstance_changelist"), {"status__exact": "failure"}
    )
    assert response.status_code == 200
    assert task_instance.task_instance_id in response.content.decode()
    page = admin_client.get(
        reverse("admin:orderlines_taskinstance_change", args=[task_instance.pk])
    )
    assert page.status_code == 200
    assert "&quot;charged&quot;: false" in page.content.decode()


def test_running_log_admin_is_read_only(admin_client, instances):
    key = instances["ok"].process_instance_id
    ProcessRunStore().record("running_logger", key, "debug_message", {"text": "hello log"})
    log = RunningLog.objects.get()
    response = admin_client.get(reverse("admin:orderlines_runninglog_changelist"), {"q": key})
    assert response.status_code == 200
    assert "debug_message" in response.content.decode()
    page = admin_client.get(reverse("admin:orderlines_runninglog_change", args=[log.pk]))
    assert page.status_code == 200
    assert "hello log" in page.content.decode()
    delete = admin_client.get(reverse("admin:orderlines_runninglog_delete", args=[log.pk]))
    assert delete.status_code == 403
