"""Fuzz both transports of a live server with hypothesis: no unhandled exception, still serving.

Inputs: malformed JSON, wrong types in known fields, huge and deeply nested payloads, broken
Engine.IO / socket.io packets over WebSocket and long-polling.
"""

import asyncio
import contextlib
import json
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.clients import SocketIOClient, next_json, plain_ws
from tests.live import PYTHON, ROOT

pytestmark = pytest.mark.live

EXAMPLES = 150
FIELDS = ["topic", "msg", "action", "process_instance_id", "process_id", "message", "role"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
known_shapes = st.fixed_dictionaries(
    {},
    optional={
        name: json_values
        | st.sampled_from(
            [
                "running_logger",
                "debug_sign",
                "uia",
                "get_uia",
                "process start",
                "step_debug",
                "debug stop",
                "subscribe",
                "uia_info",
                "agent",
            ]
        )
        for name in FIELDS
    },
)
nested = st.integers(1, 100_000).map(lambda n: "[" * n + "]" * n)
huge = st.integers(60_000, 300_000).map(lambda n: json.dumps({"topic": "uia", "msg": "x" * n}))
frames = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    json_values.map(json.dumps),
    known_shapes.map(json.dumps),
    nested,
    huge,
)
sio_packets = st.one_of(
    st.text(max_size=200),
    st.tuples(
        st.sampled_from(
            [
                "",
                "0",
                "1",
                "2",
                "3",
                "4",
                "5",
                "6",
                "40",
                "41",
                "42",
                "43",
                "44",
                "45",
                "46",
                "42/running_logger,",
                "42/uia,",
                "40/nope,",
                "42/running_logger,1",
                "451-/uia,",
            ]
        ),
        st.one_of(
            st.text(max_size=100),
            json_values.map(json.dumps),
            known_shapes.map(lambda d: json.dumps(["running_logger", d])),
        ),
    ).map("".join),
    nested.map(lambda n: "42/running_logger," + n),
)


class Counter:
    sent = 0
    reconnects = 0
    hung_posts = 0


def sends(url: str, connections: contextlib.ExitStack, subprotocol_setup=None):
    """A send function over one sync WebSocket, reconnecting when the server closes it.

    Every connection it opens is closed when ``connections`` is.
    """
    state = {"ws": None}

    def send(payload) -> None:
        for _ in range(3):
            if state["ws"] is None:
                state["ws"] = connections.enter_context(
                    connect(url, open_timeout=10, max_size=None, ping_interval=None)
                )
                if subprotocol_setup:
                    subprotocol_setup(state["ws"])
                Counter.reconnects += 1
            try:
                state["ws"].send(payload)
                Counter.sent += 1
                return
            except ConnectionClosed:
                state["ws"] = None

    return send


def sio_setup(ws) -> None:
    ws.recv(timeout=5)  # Engine.IO OPEN
    ws.send("40/running_logger,")


def test_fuzz_both_transports(live_servers):
    options = '{{"MAX_MESSAGES_PER_SECOND": 100000, "MESSAGE_BURST": 100000}}'
    server = live_servers.start("daphne", env={"REALTIME_OPTIONS": options})
    connections = contextlib.ExitStack()
    plain = sends(f"{server.ws}/ws/running_logger/", connections)
    uia = sends(f"{server.ws}/ws/uia/?role=agent", connections)
    sio = sends(f"{server.ws}/socket.io/?EIO=4&transport=websocket", connections, sio_setup)
    hyp = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

    @hyp
    @given(frames)
    def plain_ws_frames(frame):
        plain(frame)
        uia(frame)

    @hyp
    @given(sio_packets)
    def socketio_packets(packet):
        sio(packet)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.text(max_size=500) | sio_packets)
    def polling_bodies(body):
        with urllib.request.urlopen(
            f"{server.http}/socket.io/?EIO=4&transport=polling", timeout=10
        ) as answer:
            sid = json.loads(answer.read()[1:])["sid"]
        request = urllib.request.Request(
            f"{server.http}/socket.io/?EIO=4&transport=polling&sid={sid}",
            data=body.encode("utf-8", "surrogatepass"),
            method="POST",
        )
        try:
            urllib.request.urlopen(request, timeout=3).close()
        except urllib.error.HTTPError as error:
            assert error.code < 500, error.code
        except TimeoutError:
            # python-engineio closes a session after a bad POST and waits for a GET to take
            # the CLOSE packet before answering; this client keeps none pending.
            Counter.hung_posts += 1
        Counter.sent += 1

    with connections:
        plain_ws_frames()
        socketio_packets()
    polling_bodies()
    print(
        f"\nfuzz: {Counter.sent} inputs sent, {Counter.reconnects} (re)connections, "
        f"{Counter.hung_posts} polling POSTs left unanswered by python-engineio"
    )

    # Still serving: HTTP, and a live update reaches fresh clients on both transports.
    async def still_serving() -> None:
        client = SocketIOClient("uia")
        await client.connect(server.http, transports=["websocket"])
        async with plain_ws(f"{server.ws}/ws/uia/") as ws:
            proc = await asyncio.create_subprocess_exec(
                PYTHON,
                "manage.py",
                "realtime_publish",
                "uia",
                "uia",
                '{"alive": true}',
                "--key",
                "p-fuzz",
                cwd=str(ROOT),
                env=live_servers.env,
            )
            assert await asyncio.wait_for(proc.wait(), 60) == 0
            assert (await next_json(ws))["message"] == {"alive": True}
            assert (await client.next())["message"] == {"alive": True}
        await client.disconnect()

    asyncio.run(still_serving())
    assert server.proc.poll() is None
    log = server.proc.log_path.read_text()
    assert "Traceback" not in log, log[-4000:]
