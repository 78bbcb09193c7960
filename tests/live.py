"""Real server and helper processes for live tests: started on free ports, stopped by PID."""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reserve_port(port: int = 0) -> socket.socket:
    """A socket holding ``port`` (0: a free one) on 127.0.0.1 until a server takes it over.

    Why: a port number alone can be handed out again (measured: 5 times in 100,000 pairs of
    bind(0)), e.g. to a server the test starts while it keeps its Redis down. Bound with
    SO_REUSEADDR and not listening, the socket keeps the port out of bind(0) (checked: 20,000
    calls), connections to it are still refused, and a server that binds with SO_REUSEADDR
    (redis-server does) can still take it.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Return once ``port`` accepts connections; fail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Server exited with {proc.returncode}:\n{read_log(proc)}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"Server on port {port} did not start:\n{read_log(proc)}")


def read_log(proc: subprocess.Popen) -> str:
    """What a process started by this module wrote so far."""
    path = getattr(proc, "log_path", None)
    return Path(path).read_text(errors="replace")[-4000:] if path else ""


SERVER_COMMANDS = {
    "daphne": ["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "orderlines.asgi:application"],
    "uvicorn": [
        "-m",
        "uvicorn",
        "orderlines.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
    ],
    "runserver": ["manage.py", "runserver", "127.0.0.1:{port}", "--noreload"],
}


@dataclass
class Server:
    """One running server process."""

    kind: str
    port: int
    proc: subprocess.Popen

    @property
    def http(self) -> str:
        """Base HTTP URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        """Base WebSocket URL."""
        return f"ws://127.0.0.1:{self.port}"


@dataclass
class LiveServers:
    """Starts servers and helper processes for one test; ``stop_all`` ends them by PID."""

    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)
    log_dir: Path = field(default_factory=lambda: Path(os.environ.get("TMPDIR", "/tmp")))

    def start(self, kind: str = "daphne", env: dict[str, str] | None = None) -> Server:
        """Start an ASGI server of ``kind`` and wait until it accepts connections.

        ``env`` values may use ``{port}`` (e.g. an allowed origin of the server's own port).
        """
        port = free_port()
        args = [arg.format(port=port) for arg in SERVER_COMMANDS[kind]]
        extra = {name: value.format(port=port) for name, value in (env or {}).items()}
        proc = self.spawn([PYTHON, *args], name=f"{kind}-{port}", env=extra)
        wait_for_port(port, proc)
        return Server(kind, port, proc)

    def spawn(self, argv: list[str], name: str, env: dict | None = None) -> subprocess.Popen:
        """Start a process in the repo root with the test environment, logging to a file."""
        log_path = self.log_dir / f"orderlines-test-{name}-{os.getpid()}.log"
        log = open(log_path, "w")
        proc = subprocess.Popen(
            argv, cwd=ROOT, env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
        proc.log_path = log_path  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def run(self, argv: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Run a short-lived process to completion with the test environment."""
        return subprocess.run(
            argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def stop_all(self) -> None:
        """Terminate every process this object started, by PID."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class PrivateRedis:
    """A redis-server of the test's own on a free port (for counting and fault tests).

    The port is held from construction (see ``reserve_port``): a test can hand out the URL,
    keep Redis down for a while, then start it on a port nobody else took.
    """

    port: int = 0
    proc: subprocess.Popen | None = None
    _reservation: socket.socket | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._reservation = reserve_port(self.port)
        self.port = self._reservation.getsockname()[1]

    @property
    def url(self) -> str:
        """Its URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        """Start it and wait until it accepts connections."""
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(self.port, self.proc)
        finally:
            self._release()
        self._check_it_answers()
        return self

    def _release(self) -> None:
        if self._reservation is not None:
            self._reservation.close()
            self._reservation = None

    def _check_it_answers(self) -> None:
        # A port that accepts is not proof: make sure it is this redis-server that answers.
        try:
            with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5) as client:
                pong = client.ping()
        except redis.RedisError as exc:
            pong = exc
        if pong is not True or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError(
                f"Port {self.port} did not answer as this test's redis-server "
                f"(PING: {pong!r}; redis-server exit code {self.proc.returncode})"
            )

    def stop(self) -> None:
        """Stop it (by PID) and wait for it to exit."""
        self._release()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


async def publish_from_other_process(
    env: dict[str, str], route: str, topic: str, message: object, key: str
) -> str:
    """Publish through the publish API's CLI (``realtime_publish``) in a separate OS process."""
    import asyncio
    import json

    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        "manage.py",
        "realtime_publish",
        route,
        topic,
        json.dumps(message),
        "--key",
        key,
        cwd=str(ROOT),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    if proc.returncode != 0:
        raise AssertionError(f"realtime_publish failed: {err.decode()}")
    return out.decode()
