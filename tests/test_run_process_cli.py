"""``manage.py run_process`` output: plain lines, a progress bar on a terminal, JSON events."""

import io
import json

import pytest
from django.core.management import call_command

from orderlines.run_output import BarOutput, JsonOutput, PlainOutput, output_for

pytest_plugins = ["tests.fixtures_domain"]
pytestmark = pytest.mark.django_db(transaction=True)


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run(*args: str, stdout: io.StringIO | None = None) -> str:
    out = stdout or io.StringIO()
    call_command("run_process", "demo", "--step-delay", "0", *args, stdout=out)
    return out.getvalue()


def test_plain_lines_when_not_a_terminal(demo_process):
    lines = run().splitlines()
    assert lines[0].startswith("process_instance_id=pi-")
    assert lines[-1].startswith("[100%] success")
    assert "\r" not in "".join(lines)


def test_progress_bar_on_a_terminal(demo_process):
    text = run(stdout=Terminal())
    first, rest = text.split("\n", 1)
    assert first.startswith("process_instance_id=pi-")
    # Redrawn in place, one frame per state change, ending on a full bar and a newline.
    frames = rest.rstrip("\n").split("\r\x1b[K")[1:]
    assert len(frames) > 10
    assert frames[-1].startswith("[" + "#" * 24 + "] 100% success")
    assert text.endswith("\n")


def test_json_events(demo_process):
    events = [json.loads(line) for line in run("--json").splitlines()]
    assert events[0] == {"event": "start", "process_instance_id": events[0]["process_instance_id"]}
    progress = [e for e in events if e["event"] == "progress"]
    assert {"status", "task_progress", "running_edge", "text"} <= set(progress[0])
    assert [e["task_progress"] for e in progress] == sorted(e["task_progress"] for e in progress)
    assert events[-1] == {
        "event": "end",
        "process_instance_id": events[0]["process_instance_id"],
        "status": "success",
        "task_progress": 100,
        "error": None,
    }


@pytest.mark.parametrize(
    ("stream", "as_json", "kind"),
    [(io.StringIO(), False, PlainOutput), (Terminal(), False, BarOutput),
     (Terminal(), True, JsonOutput), (io.StringIO(), True, JsonOutput)],
)  # fmt: skip
def test_output_choice(stream, as_json, kind):
    assert type(output_for(stream, as_json=as_json)) is kind
