"""Starting, measuring and ending the processes of one benchmark run, always by PID."""

import json
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
STARTED: list[subprocess.Popen] = []  # everything this run started, to end at exit


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from 3 (state) on


def tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            children.setdefault(int(st[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process tree (live processes and their reaped children)."""
    total = 0
    for p in tree(pid):
        if (st := _stat(p)) is not None:
            total += sum(int(x) for x in st[11:15])  # utime stime cutime cstime
    return total / TICK


def rss_bytes(pid: int) -> int:
    """Resident memory of the process tree."""
    total = 0
    for p in tree(pid):
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        except OSError:
            pass
    return total


def start(
    argv: list[str],
    *,
    core: int,
    log: Path,
    env: dict | None = None,
    cwd: str | Path | None = None,
    pipes: bool = False,
) -> subprocess.Popen:
    """Start ``argv`` pinned to ``core`` in its own session; output to ``log`` (or pipes)."""
    full_env = dict(os.environ, **(env or {}))
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
    out = subprocess.PIPE if pipes else open(log, "ab")
    proc = subprocess.Popen(
        ["taskset", "-c", str(core), *argv],
        env=full_env,
        cwd=cwd,
        start_new_session=True,
        stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
        stdout=out,
        stderr=open(log, "ab") if pipes else subprocess.STDOUT,
    )
    STARTED.append(proc)
    return proc


def stop(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """End ``proc`` and its descendants: SIGTERM by PID, then SIGKILL whoever is left."""
    pids = tree(proc.pid) if proc.poll() is None else []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(
            Path(f"/proc/{p}").exists() and _stat(p) and _stat(p)[0] != "Z" for p in pids
        ):
            proc.poll()
            time.sleep(0.05)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    if proc in STARTED:
        STARTED.remove(proc)


def stop_all() -> None:
    """End everything still running that this run started (called at exit, even on error)."""
    for proc in list(reversed(STARTED)):
        stop(proc, grace=1.0)


def run(
    argv: list[str],
    *,
    core: int,
    log: Path,
    timeout: float,
    env: dict | None = None,
    cwd: str | Path | None = None,
) -> dict:
    """Run a publisher to its end (bounded by ``timeout``); return its last JSON line."""
    proc = start(argv, core=core, log=log, env=env, cwd=cwd, pipes=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        return {"error": f"timed out after {timeout:.0f} s"}
    STARTED.remove(proc)
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}, see {log}"}
    return json.loads(lines[-1])


class LoadGen:
    """The Node load generator, spoken to in JSON lines."""

    def __init__(self, script: Path, *, core: int, log: Path) -> None:
        self.proc = start(["node", str(script)], core=core, log=log, pipes=True)
        self.replies: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.replies.put(json.loads(line))
        self.replies.put({"ev": "exited"})

    def send(self, **command) -> None:
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        self.proc.stdin.flush()

    def wait(self, event: str, timeout: float) -> dict:
        """The next reply named ``event`` (an ``error`` reply after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                reply = self.replies.get(timeout=left)
            except queue.Empty:
                break
            if reply.get("ev") in (event, "exited"):
                return reply
        return {"ev": "error", "error": f"no {event!r} from the load generator in {timeout:.0f} s"}

    def close(self) -> None:
        stop(self.proc)
