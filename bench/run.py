"""Run the realtime benchmark: every system side by side, same machine, same workload.

Started by ``bash bench/run`` (which installs the peers first); see docs/benchmarks.md.
"""

import argparse
import atexit
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import procs, project, report
from harness.systems import BENCH, NODE, PROJECT_BIN, REDIS, Row, fill, select
from peers.payload import update

RESULTS = BENCH / "results"
SERVER_CORE, CLIENT_CORE = 0, 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flush_redis(db: int) -> None:
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()


def answers_socketio(port: int) -> bool:
    url = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status == 200 and resp.read(2) == b"0{"
    except OSError:
        return False


def wait_listening(port: int, proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server not listening on {port} after {timeout:.0f} s")


class RowRun:
    """One row at one client count: start the server, run the phases, end everything."""

    def __init__(self, row: Row, clients: int, opts, payload_path: Path, full: bool) -> None:
        self.row, self.c, self.opts, self.full = row, clients, opts, full
        self.payload_path = payload_path
        self.redis = REDIS.format(db=row.db)
        self.tag = f"{row.key}-c{clients}"
        self.log = RESULTS / "logs" / f"{self.tag}.log"
        self.res: dict = {
            "row": row.key,
            "label": row.label,
            "transport": row.transport,
            "clients": clients,
            "errors": [],
        }

    def run(self) -> dict:
        server = lg = None
        try:
            flush_redis(self.row.db)
            port = free_port()
            env = self.row_env()
            if self.row.project:
                env.update(project.server_env(self.redis))
            argv = fill(self.row.serve, port=port, redis=self.redis)
            self.res["server_cmd"] = " ".join(argv)
            server = procs.start(argv, core=SERVER_CORE, log=self.log, env=env, cwd=self.row.cwd)
            wait_listening(port, server)
            time.sleep(1.0)
            if self.row.transport == "sio" and not answers_socketio(port):
                self.res["na"] = "server does not answer socket.io at /socket.io/"
                return self.res
            lg = procs.LoadGen(NODE / "loadgen.js", core=CLIENT_CORE, log=self.log)
            self.phases(server, lg, port)
        except Exception as exc:  # a failing system is a row of the report, not a crash
            self.res["errors"].append(f"{type(exc).__name__}: {exc}")
        finally:
            if lg is not None:
                lg.close()
            if server is not None:
                self.res["server_alive_at_end"] = server.poll() is None
                procs.stop(server)
        return self.res

    def phases(self, server, lg, port: int) -> None:
        o, r = self.opts, self.res
        r["rss_empty"] = procs.rss_bytes(server.pid)
        lg.send(
            cmd="connect",
            url=self.row.url(port),
            mode=self.row.transport,
            n=self.c,
            window=o.window,
            deflate=True,
            raw=not o.ws_reader,
        )
        cpu0 = procs.cpu_seconds(server.pid)
        conn = lg.wait("connected", timeout=o.connect_timeout)
        r["server_cpu_connect_s"] = procs.cpu_seconds(server.pid) - cpu0
        r["connect"] = conn
        if conn.get("ev") != "connected" or conn["ok"] == 0:
            r["errors"].append(f"connect: {conn}")
            return
        r["setup_rate"] = conn["rate"]
        time.sleep(o.settle)
        r["rss_idle"] = procs.rss_bytes(server.pid)
        r["mem_per_conn"] = (r["rss_idle"] - r["rss_empty"]) / conn["ok"]
        if not self.full:
            return
        r["m_lat"], r["m_tp"] = o.updates(o.m_lat, self.c), o.updates(o.m_tp, self.c)
        r["latency"] = self.publish_phase(server, lg, r["m_lat"], o.rate)
        time.sleep(1.0)
        cpu0 = procs.cpu_seconds(server.pid)
        r["throughput"] = tp = self.publish_phase(server, lg, r["m_tp"], 0, profile=o.profile)
        r["server_cpu_s"] = procs.cpu_seconds(server.pid) - cpu0
        if tp.get("unique") and tp.get("first_pub_us") and tp.get("last_recv_us"):
            span = (tp["last_recv_us"] - tp["first_pub_us"]) / 1e6
            r["deliveries_per_s"] = tp["unique"] / span
            r["loss"] = tp["expected"] - tp["unique"]
            r["cpu_per_1k"] = r["server_cpu_s"] / (tp["unique"] / 1000)

    def publish_phase(self, server, lg, count: int, rate: float, profile: bool = False) -> dict:
        o = self.opts
        deadline = o.phase_timeout
        lg.send(cmd="expect", m=count, deadline=deadline)
        argv = fill(
            self.row.publish, redis=self.redis, payload=self.payload_path, count=count, rate=rate
        )
        env = {**self.row_env(), **project.publisher_env(self.redis)} if self.row.project else None
        spy = self.start_profile(server) if profile and not self.row.key == "node" else None
        pub = procs.run(
            argv, core=CLIENT_CORE, log=self.log, timeout=deadline, env=env, cwd=self.row.cwd
        )
        lg.send(cmd="pubdone", idle=o.idle)
        done = lg.wait("done", timeout=deadline + o.idle + 10)
        if spy is not None:
            try:
                spy.wait(timeout=30)
            finally:
                procs.stop(spy)
        done["publisher"] = pub
        if "error" in pub:
            self.res["errors"].append(f"publisher: {pub['error']}")
        if done.get("why") == "deadline":
            self.res["errors"].append(f"phase rate={rate} hit its {deadline} s deadline")
        return done

    def row_env(self) -> dict:
        """The row's own environment (e.g. the project's CHANNEL_LAYER), for all its processes."""
        return {k: v.format(redis=self.redis) for k, v in self.row.env.items()}

    def start_profile(self, server):
        out = RESULTS / f"pyspy-{self.tag}.txt"  # collapsed stacks (flamegraph.pl input)
        spy = BENCH / ".env" / "bin" / "py-spy"
        argv = [str(spy), "record", "-o", str(out), "-f", "raw", "-r", "200"]
        argv += ["-p", str(server.pid), "-d", str(self.opts.profile)]
        return procs.start(argv, core=CLIENT_CORE, log=self.log)


def _counts(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def options(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="smoke test: C=200, few updates")
    p.add_argument("--systems", help="comma-separated row keys or key prefixes (default: all)")
    p.add_argument(
        "--clients", help='client counts with the full workload, e.g. 1000,5000 ("": none)'
    )
    p.add_argument("--conn-only", help="client counts for memory and setup rate only, e.g. 10000")
    p.add_argument(
        "--m-lat",
        type=int,
        help="updates in the latency phase (at --rate) at "
        "C=1000; scaled by 1000/C, at least 12 (default 60; --quick 40)",
    )
    p.add_argument("--m-tp", type=int, help="updates in the full-speed phase, scaled the same way")
    p.add_argument("--rate", type=float, default=20.0, help="updates/s of the latency phase")
    p.add_argument(
        "--ws-reader",
        action="store_true",
        help="load generator reads every frame through the ws library "
        "(default: raw frame reader on connections without compression)",
    )
    p.add_argument("--window", type=int, default=100, help="handshakes in flight at once")
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="SECONDS",
        help="py-spy the (Python) server for SECONDS from the start of the "
        "full-speed phase; collapsed stacks in bench/results/pyspy-*.txt",
    )
    p.add_argument(
        "--docs",
        help="markdown output (default docs/benchmarks.md; bench/results/quick.md with --quick)",
    )
    o = p.parse_args(argv)
    o.argv = list(argv if argv is not None else sys.argv[1:])
    quick = o.quick
    if o.clients is None:  # --clients "": no full workload (with --conn-only: setup and memory)
        o.clients = "200" if quick else "1000,5000"
    if o.conn_only is None:
        o.conn_only = "" if quick else "10000"
    o.clients, o.conn_only = _counts(o.clients), _counts(o.conn_only)
    o.m_lat = o.m_lat or (40 if quick else 60)
    o.m_tp = o.m_tp or (40 if quick else 60)
    o.updates = lambda m, c: max(12, min(m, round(m * 1000 / c)))
    o.settle, o.idle = (1.0, 2.0) if quick else (3.0, 3.0)
    o.phase_timeout = 60 if quick else 90
    o.connect_timeout = 60 if quick else 120
    o.docs = (
        Path(o.docs)
        if o.docs
        else (RESULTS / "quick.md" if quick else BENCH.parent / "docs" / "benchmarks.md")
    )
    return o


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (200_000, 65_536, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard)))
            return
        except (ValueError, OSError):
            continue


def write_calibration() -> dict | None:
    """This hour's CPU for one write of an update's frame to each of 1,000 loopback sockets.

    The latency figures follow it (bench/README.md, micro/write_cost.py); printed beside them.
    """
    command = [str(PROJECT_BIN / "python"), str(BENCH / "micro" / "write_cost.py"), "--calibrate"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        print(f"write calibration failed: {exc!r}", file=sys.stderr)
        return None


def main() -> None:
    o = options()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "logs").mkdir(exist_ok=True)
    raise_fd_limit()
    os.sched_setaffinity(0, {CLIENT_CORE})
    atexit.register(procs.stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rows = select(o.systems)
    payload_path = RESULTS / "payload.json"
    started = time.time()
    setup = project.prepare(RESULTS) if any(r.project for r in rows) else {}
    payload_path.write_text(json.dumps(update(setup.get("instance_id", "pi-bench-0001"))))
    calibration = {"start": write_calibration()}
    results = []
    plan = [(c, True) for c in o.clients] + [(c, False) for c in o.conn_only]
    for clients, full in plan:
        for row in rows:
            if setup.get("error") and row.project:
                results.append(
                    {
                        "row": row.key,
                        "label": row.label,
                        "clients": clients,
                        "transport": row.transport,
                        "na": setup["error"],
                        "errors": [],
                    }
                )
                continue
            print(
                f"[{time.time() - started:6.0f}s] {row.key} C={clients}"
                f"{'' if full else ' (connections only)'}",
                flush=True,
            )
            res = RowRun(row, clients, o, payload_path, full).run()
            res["full"] = full
            results.append(res)
            print("        " + report.one_line(res), flush=True)
    calibration["end"] = write_calibration()
    (RESULTS / "last.json").write_text(
        json.dumps(
            {
                "options": {k: v for k, v in vars(o).items() if k != "updates"},
                "setup": setup,
                "calibration": calibration,
                "results": results,
            },
            indent=1,
            default=str,
        )
    )
    text = report.render(results, o, setup, payload_path, time.time() - started, calibration)
    print(text["table"])
    print(text["goals"])
    o.docs.parent.mkdir(parents=True, exist_ok=True)
    o.docs.write_text(text["markdown"])
    print(f"\nWritten: {o.docs} and {RESULTS / 'last.json'}")


if __name__ == "__main__":
    main()
