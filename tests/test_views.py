"""GET /graph/graph_instance: the snapshot over HTTP (PROTOCOL.md section 2)."""

import pytest

from orderlines.models import ProcessInstance
from orderlines.realtime_store import ProcessRunStore
from orderlines.runner import run_process
from tests.fixtures_domain import end, graph, start, task

pytest_plugins = ["tests.fixtures_domain"]

URL = "/graph/graph_instance"


@pytest.fixture
def instance(make_process):
    process = make_process(graph([start(), task("a"), end()], [("start", "a"), ("a", "end")]))
    return ProcessInstance.objects.create(
        process=process,
        process_instance_id="pi-view-1",
        task_progress=42,
        running_edge=["e-start-a"],
        graph_snapshot=process.graph,
    )


@pytest.mark.django_db
def test_snapshot_shape(client, instance):
    response = client.get(URL, {"process_instance_id": "pi-view-1"})
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "code": 200,
        "message": "ok",
        "data": {
            "graph_data": {"graphData": instance.process.graph},
            "task_progress": 42,
            "running_edge": ["e-start-a"],
        },
    }
    # One source of the shape: exactly what the realtime route answers "process start" with.
    assert body["data"] == ProcessRunStore().snapshot("running_logger", "pi-view-1")


@pytest.mark.django_db
def test_unknown_instance_is_404(client, instance):
    response = client.get(URL, {"process_instance_id": "pi-nope"})
    assert response.status_code == 404
    assert response.json() == {
        "code": 404,
        "message": "Unknown process_instance_id 'pi-nope'.",
        "data": None,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{}, {"process_instance_id": ""}, {"process_instance_id": "  "}])
def test_missing_id_is_400(client, query):
    response = client.get(URL, query)
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["data"]) == (400, None)
    assert "process_instance_id is required" in body["message"]


@pytest.mark.django_db
def test_only_get(client, instance):
    assert client.post(URL, {"process_instance_id": "pi-view-1"}).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_snapshot_of_a_finished_run(client, demo_process):
    finished = run_process(demo_process, step_delay=0)
    data = client.get(URL, {"process_instance_id": finished.process_instance_id}).json()["data"]
    assert (data["task_progress"], data["running_edge"]) == (100, [])
    nodes = data["graph_data"]["graphData"]["nodes"]
    assert len(nodes) == len(demo_process.graph["nodes"])
    assert {n["properties"]["status"] for n in nodes} == {"success"}
    assert {e["id"] for e in data["graph_data"]["graphData"]["edges"]} == {
        e["id"] for e in demo_process.graph["edges"]
    }
