"""Create the ``demo`` process: an order flow with a parallel split and join, and one breakpoint.

The graph is frozen here (not imported from app code) so this migration means the same thing
forever; ``create_demo_process`` is idempotent and also used by tests to restore the demo.
"""

from django.db import migrations


def _node(node_id, node_type, x, y, text, **properties):
    return {
        "id": node_id,
        "type": node_type,
        "x": x,
        "y": y,
        "text": {"x": x, "y": y, "value": text},
        "properties": properties,
    }


def _task(node_id, x, y, text, task, params, **extra):
    return _node(node_id, "bpmn:serviceTask", x, y, text, task=task, params=params, **extra)


def _edge(edge_id, source, target):
    return {
        "id": edge_id,
        "type": "bpmn:sequenceFlow",
        "sourceNodeId": source,
        "targetNodeId": target,
        "properties": {},
    }


DEMO_NODES = [
    _node("n-start", "bpmn:startEvent", 80, 220, "Start"),
    _task("n-receive", 220, 220, "Receive order", "log", {"message": "Order received"}),
    _task("n-validate", 380, 220, "Validate order", "log", {"message": "Order is valid"}),
    _task("n-stock", 540, 220, "Check stock", "wait", {"seconds": 0.5}),
    _node("n-split", "bpmn:parallelGateway", 680, 220, "Split"),
    _task("n-reserve", 820, 120, "Reserve stock", "wait", {"seconds": 0.3}),
    _task("n-label", 980, 120, "Print label", "log", {"message": "Shipping label printed"}),
    _task("n-charge", 820, 320, "Charge payment", "wait", {"seconds": 0.3}, breakpoint=True),
    _task("n-receipt", 980, 320, "Send receipt", "log", {"message": "Receipt sent"}),
    _node("n-join", "bpmn:parallelGateway", 1120, 220, "Join"),
    _task("n-pack", 1260, 220, "Pack order", "wait", {"seconds": 0.3}),
    _task("n-ship", 1420, 220, "Ship order", "log", {"message": "Order shipped"}),
    _node("n-end", "bpmn:endEvent", 1560, 220, "End"),
]

DEMO_EDGES = [
    _edge("e-start-receive", "n-start", "n-receive"),
    _edge("e-receive-validate", "n-receive", "n-validate"),
    _edge("e-validate-stock", "n-validate", "n-stock"),
    _edge("e-stock-split", "n-stock", "n-split"),
    _edge("e-split-reserve", "n-split", "n-reserve"),
    _edge("e-split-charge", "n-split", "n-charge"),
    _edge("e-reserve-label", "n-reserve", "n-label"),
    _edge("e-charge-receipt", "n-charge", "n-receipt"),
    _edge("e-label-join", "n-label", "n-join"),
    _edge("e-receipt-join", "n-receipt", "n-join"),
    _edge("e-join-pack", "n-join", "n-pack"),
    _edge("e-pack-ship", "n-pack", "n-ship"),
    _edge("e-ship-end", "n-ship", "n-end"),
]


def create_demo_process(apps, schema_editor):
    Process = apps.get_model("orderlines", "Process")
    Process.objects.update_or_create(
        name="demo",
        defaults={
            "process_id": "p-demo",
            "description": "Demo order flow: parallel reserve/charge branches joined before "
            "packing; 'Charge payment' is a breakpoint in debug runs.",
            "params": {"order_id": "SO-1001"},
            "config": {},
            "graph": {"nodes": DEMO_NODES, "edges": DEMO_EDGES},
        },
    )


def delete_demo_process(apps, schema_editor):
    Process = apps.get_model("orderlines", "Process")
    ProcessInstance = apps.get_model("orderlines", "ProcessInstance")
    ProcessInstance.objects.filter(process__name="demo").delete()
    Process.objects.filter(name="demo").delete()


class Migration(migrations.Migration):
    dependencies = [("orderlines", "0001_initial")]

    operations = [migrations.RunPython(create_demo_process, delete_demo_process)]
