"""The systems under test: how to start each server and its external publisher.

A row is one system served one way (server and options) and reached over one transport:
"sio" (Socket.IO over WebSocket only, namespace /running_logger) or "ws" (plain WebSocket).
"""

import sys
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
PEERS = BENCH / "peers"
NODE = BENCH / "node"
ENV_BIN = BENCH / ".env" / "bin"
PROJECT_BIN = ROOT / ".venv" / "bin"
REDIS = "redis://127.0.0.1:6379/{db}"


@dataclass
class Row:
    key: str
    label: str
    transport: str  # "sio" | "ws"
    db: int
    serve: list[str]  # argv; {port} and {redis} are filled in
    publish: list[str]  # argv; {redis} {payload} {count} {rate} are filled in
    cwd: Path = PEERS
    env: dict = field(default_factory=dict)
    ws_path: str = "/ws/running_logger/"
    project: bool = False

    def url(self, port: int) -> str:
        base = f"ws://127.0.0.1:{port}"
        return base if self.transport == "sio" else base + self.ws_path


PUB_ARGS = ["{redis}", "{payload}", "{count}", "{rate}"]
PY = str(ENV_BIN / "python")
UVICORN = [str(ENV_BIN / "uvicorn"), "psio_uvicorn:app", "--host", "127.0.0.1", "--port", "{port}"]
NO_DEFLATE = ["--ws-per-message-deflate", "false"]
PROJECT_PUB = [str(PROJECT_BIN / "python"), str(PEERS / "project_publish.py"), *PUB_ARGS]
PROJECT_DAPHNE = [
    str(PROJECT_BIN / "daphne"),
    "-b",
    "127.0.0.1",
    "-p",
    "{port}",
    "orderlines.asgi:application",
]
PROJECT_UVICORN = [
    str(PROJECT_BIN / "uvicorn"),
    "orderlines.asgi:application",
    "--host",
    "127.0.0.1",
    "--port",
    "{port}",
]


def project_rows() -> list[Row]:
    rows = []
    pubsub = {"CHANNEL_LAYER": "pubsub"}  # channels-redis's pub/sub layer instead of its core
    servers = [
        ("daphne", "daphne", PROJECT_DAPHNE, {}),
        ("uvicorn", "uvicorn", PROJECT_UVICORN, {}),
        ("uvicorn-nodeflate", "uvicorn, deflate off", PROJECT_UVICORN + NO_DEFLATE, {}),
        (
            "uvicorn-nodeflate-pubsub",
            "uvicorn, deflate off, pub/sub layer",
            PROJECT_UVICORN + NO_DEFLATE,
            pubsub,
        ),
    ]
    for transport in ("sio", "ws"):
        for key, how, argv, env in servers:
            rows.append(
                Row(
                    f"project-{key}-{transport}",
                    f"project {'socket.io' if transport == 'sio' else 'plain WS'} ({how})",
                    transport,
                    5,
                    argv,
                    PROJECT_PUB,
                    cwd=ROOT,
                    env=env,
                    project=True,
                )
            )
    return rows


ROWS = [
    Row(
        "flask-gevent",
        "Flask-SocketIO + gevent (old stack)",
        "sio",
        1,
        [PY, "flask_gevent.py", "serve", "{port}", "{redis}"],
        [PY, "flask_gevent.py", "publish", *PUB_ARGS],
    ),
    Row(
        "psio-uvicorn",
        "python-socketio + uvicorn",
        "sio",
        2,
        UVICORN,
        [PY, "psio_uvicorn.py", "publish", *PUB_ARGS],
        env={"REDIS_URL": "{redis}"},
    ),
    Row(
        "psio-uvicorn-nodeflate",
        "python-socketio + uvicorn, deflate off",
        "sio",
        2,
        UVICORN + NO_DEFLATE,
        [PY, "psio_uvicorn.py", "publish", *PUB_ARGS],
        env={"REDIS_URL": "{redis}"},
    ),
    Row(
        "channels-daphne",
        "textbook Channels consumer + daphne",
        "ws",
        3,
        [str(ENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", "{port}", "channels_peer:application"],
        [PY, "channels_peer.py", "publish", *PUB_ARGS],
        env={
            "REDIS_URL": "{redis}",
            "DJANGO_SETTINGS_MODULE": "channels_peer",
            "PYTHONPATH": str(PEERS),
        },
    ),
    Row(
        "node",
        "Node socket.io v4 + redis-adapter",
        "sio",
        4,
        ["node", "server.js", "{port}", "{redis}"],
        ["node", "publish.js", *PUB_ARGS],
        cwd=NODE,
    ),
    *project_rows(),
]


def fill(argv: list[str], **values) -> list[str]:
    return [a.format(**values) for a in argv]


def select(spec: str | None) -> list[Row]:
    """Rows whose key starts with any comma-separated prefix in ``spec`` (all if empty)."""
    if not spec:
        return list(ROWS)
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    keys = {r.key for r in ROWS}
    rows = [
        r for r in ROWS if any(r.key == w if w in keys else r.key.startswith(w) for w in wanted)
    ]
    if not rows:
        sys.exit(f"--systems {spec!r} matches nothing; keys: {', '.join(r.key for r in ROWS)}")
    return rows
