"""The table, the goal check and docs/benchmarks.md, from the raw figures of one run."""

import json
import os
import platform
import subprocess
import time
from pathlib import Path

from .systems import ENV_BIN, NODE, PROJECT_BIN, ROWS, fill

NODE_ROW, CHANNELS_ROW, PSIO_ROW = "node", "channels-daphne", "psio-uvicorn"
COLUMNS = [
    "system",
    "C",
    "setup/s",
    "KiB/conn",
    "pub/s",
    "deliv/s",
    "vs Node",
    "loss",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "CPU-s/1k",
    "LG CPU%",
    "notes",
]


def _f(value, digits=0, none="-"):
    if value is None:
        return none
    return f"{value:,.{digits}f}"


def _lat(res: dict, key: str):
    return (res.get("latency") or {}).get(key)


def _notes(res: dict) -> str:
    notes = []
    if res.get("na"):
        notes.append(f"n/a: {res['na']}")
    conn = res.get("connect") or {}
    lat = res.get("latency") or {}
    if conn.get("ok") and lat.get("open") is not None and lat["open"] < conn["ok"]:
        notes.append(f"{conn['ok'] - lat['open']} closed by the server after connecting")
    if conn.get("failed"):
        notes.append(f"{conn['failed']} connects failed")
    lat = res.get("latency") or {}
    if lat.get("expected") and lat.get("unique") is not None and lat["unique"] < lat["expected"]:
        notes.append(f"lost {lat['expected'] - lat['unique']} at 20/s")
    for phase in ("latency", "throughput"):
        ph = res.get(phase) or {}
        if ph.get("updates_nobody_got") or ph.get("clients_missing_last"):
            notes.append(
                f"{phase}: {ph.get('updates_nobody_got')} updates reached nobody, "
                f"{ph.get('clients_missing_last')} clients missed the last one"
            )
        if (res.get(phase) or {}).get("dup"):
            notes.append(f"{res[phase]['dup']} duplicates ({phase})")
    if res.get("server_alive_at_end") is False:
        notes.append("server died")
    notes.extend(e[:120] for e in res.get("errors", []))
    return "; ".join(notes)


def _find(results, key, clients, full=True):
    for r in results:
        if r["row"] == key and r["clients"] == clients and r.get("full", True) == full:
            return r
    return None


def cells(res: dict, results: list) -> list[str]:
    node = _find(results, NODE_ROW, res["clients"], res.get("full", True)) or {}
    ratio = None
    if res.get("deliveries_per_s") and node.get("deliveries_per_s"):
        ratio = res["deliveries_per_s"] / node["deliveries_per_s"]
    tp = res.get("throughput") or {}
    pub = tp.get("publisher") or {}
    mem = res.get("mem_per_conn")
    return [
        res["label"],
        f"{res['clients']:,}" + ("" if res.get("full", True) else "*"),
        _f(res.get("setup_rate")),
        _f(mem / 1024 if mem is not None else None, 1),
        _f(pub["sent"] / pub["secs"] if pub.get("secs") else None),
        _f(res.get("deliveries_per_s")),
        _f(ratio, 2),
        _f(res.get("loss")),
        _f(_lat(res, "p50_ms"), 1),
        _f(_lat(res, "p95_ms"), 1),
        _f(_lat(res, "p99_ms"), 1),
        _f(res.get("cpu_per_1k"), 3),
        _f(tp["util"] * 100 if tp.get("util") else None),
        _notes(res),
    ]


def one_line(res: dict) -> str:
    return " | ".join(
        f"{c}={v}" for c, v in zip(COLUMNS[1:], cells(res, [res])[1:], strict=True) if v != "-"
    )


def table(results: list, markdown: bool) -> str:
    rows = [COLUMNS] + [cells(r, results) for r in results]
    if markdown:
        lines = ["| " + " | ".join(r) + " |" for r in rows]
        lines.insert(1, "|" + "---|" * len(COLUMNS))
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS) - 1)]
    return "\n".join(
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=False))
        )
        + "  "
        + r[-1]
        for r in rows
    )


def _check(name, ok, detail):
    return (name, "MET" if ok else ("n/a" if ok is None else "NOT MET"), detail)


def goals(results: list) -> list[tuple[str, str, str]]:
    """Where each project row stands against the issue's goals."""
    out = []
    for r in results:
        if not r["row"].startswith("project-") or r.get("na"):
            continue
        c, full = r["clients"], r.get("full", True)
        node = _find(results, NODE_ROW, c, full) or {}
        name = f"{r['label']} C={c:,}"
        if full and c == 1000:
            d, nd = r.get("deliveries_per_s"), node.get("deliveries_per_s")
            ok = None if d is None or nd is None else d >= nd and r.get("loss") == 0
            out.append(
                _check(
                    f"{name}: deliv/s >= Node, 0 loss",
                    ok,
                    f"{_f(d)} vs Node {_f(nd)}, loss {_f(r.get('loss'))}"
                    + (f" ({d / nd:.2f}x)" if d and nd else ""),
                )
            )
            if r["transport"] == "ws":
                ch = (_find(results, CHANNELS_ROW, c) or {}).get("deliveries_per_s")
                ok = None if d is None or ch is None else d >= 25 * ch
                out.append(
                    _check(
                        f"{name}: deliv/s >= 25x Channels",
                        ok,
                        f"{_f(d)} vs 25 x {_f(ch)} = {_f(25 * ch if ch else None)}"
                        + (f" ({d / ch:.1f}x)" if d and ch else ""),
                    )
                )
            p99, np99 = _lat(r, "p99_ms"), _lat(node, "p99_ms")
            ok = None if p99 is None else p99 <= 15 and (np99 is None or p99 <= np99)
            out.append(
                _check(
                    f"{name}: p99 <= 15 ms and <= Node",
                    ok,
                    f"{_f(p99, 1)} ms vs Node {_f(np99, 1)} ms",
                )
            )
        if r["transport"] == "sio" and c == 5000:
            m, nm = r.get("mem_per_conn"), node.get("mem_per_conn")
            ok = None if m is None or nm is None else m <= nm
            out.append(
                _check(
                    f"{name}: idle KiB/conn <= Node",
                    ok,
                    f"{_f(m / 1024 if m else None, 1)} vs Node {_f(nm / 1024 if nm else None, 1)}",
                )
            )
        if r["transport"] == "sio":
            ps = (_find(results, PSIO_ROW, c, full) or {}).get("setup_rate")
            s = r.get("setup_rate")
            ok = None if s is None or ps is None else s >= 1.5 * ps
            out.append(
                _check(
                    f"{name}: setup >= 1.5x python-socketio",
                    ok,
                    f"{_f(s)}/s vs 1.5 x {_f(ps)} = {_f(1.5 * ps if ps else None)}"
                    + (f" ({s / ps:.2f}x)" if s and ps else ""),
                )
            )
    return out


def _run(argv, cwd=None) -> str:
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({exc})"


def calibration_line(calibration) -> str:
    """The machine's write speed at the run's start and end (bench/micro/write_cost.py)."""

    def show(figures) -> str:
        if not figures:
            return "not measured"
        return f"{figures['median_ms']:.1f} ms (best {figures['best_ms']:.1f})"

    calibration = calibration or {}
    return (
        "- Loopback writes this hour: one 3.4 KB write to each of 1,000 sockets took "
        f"{show(calibration.get('start'))} of CPU at the start, "
        f"{show(calibration.get('end'))} at the end (median of 15 rounds; "
        "`bench/micro/write_cost.py`). A paced update's fan-out to 1,000 clients is mostly "
        "this, so the latency columns move with it (`bench/README.md`)."
    )


def machine(calibration=None) -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "?",
    )
    return "\n".join(
        [
            # Not `nproc`: it counts this process's cores, and the benchmark pins itself to one.
            f"- cores: {os.cpu_count()} (server on core 0; load generator, publisher on core 1)",
            f"- CPU model: {cpu}",
            calibration_line(calibration),
            f"- kernel: {platform.release()}",
            f"- Python (bench/.env): {platform.python_version()}",
            f"- Node.js: {_run(['node', '--version']).strip()}",
            f"- Redis: {_run(['redis-server', '--version']).strip()}",
            "- free -h:",
            "",
            "```",
            _run(["free", "-h"]).rstrip(),
            "```",
        ]
    )


def versions() -> str:
    npm = _run(["npm", "ls", "--all", "--parseable=false"], cwd=NODE)
    return "\n".join(
        [
            "bench/.env (peers, `pip freeze`):",
            "",
            "```",
            _run([str(ENV_BIN / "pip"), "freeze"]).rstrip(),
            "```",
            "",
            "Project .venv (`pip freeze`):",
            "",
            "```",
            _run([str(PROJECT_BIN / "pip"), "freeze"]).rstrip(),
            "```",
            "",
            "bench/node (`npm ls --all`):",
            "",
            "```",
            npm.rstrip(),
            "```",
        ]
    )


def project_sources() -> str:
    """A fingerprint of the project's code as measured (the work tree may be uncommitted)."""
    import hashlib

    from .systems import ROOT

    digest = hashlib.sha1()
    files = sorted(p for d in ("realtime", "orderlines") for p in (ROOT / d).rglob("*.py"))
    for path in files:
        digest.update(path.read_bytes())
    head = _run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]).strip() or "none"
    dirty = len(
        _run(
            ["git", "-C", str(ROOT), "status", "--short", "--", "realtime", "orderlines"]
        ).splitlines()
    )
    return (
        f"git HEAD {head}, {dirty} changed/untracked paths; sha1 of {len(files)} .py files: "
        f"{digest.hexdigest()[:12]}"
    )


def commands(o, payload_path: Path) -> str:
    lines = []
    for row in ROWS:
        serve = fill(row.serve, port="PORT", redis=f"redis://127.0.0.1:6379/{row.db}")
        pub = fill(
            row.publish,
            redis=f"redis://127.0.0.1:6379/{row.db}",
            payload="PAYLOAD",
            count="COUNT",
            rate="RATE",
        )
        lines.append(
            f"- **{row.key}** (cwd `{row.cwd}`, env {json.dumps(row.env) or '{}'}):"
            f"\n  server `taskset -c 0 {' '.join(serve)}`;"
            f"\n  publisher `taskset -c 1 {' '.join(pub)}`"
        )
    lines.append("- load generator: `taskset -c 1 node bench/node/loadgen.js` (commands on stdin)")
    return "\n".join(lines)


def render(results, o, setup, payload_path: Path, elapsed: float, calibration=None) -> dict:
    size = len(payload_path.read_bytes())
    plain = table(results, markdown=False)
    g = goals(results)
    goal_text = (
        "\nGoals (project vs peers, this run):\n"
        + "\n".join(f"  [{status:7}] {name}: {detail}" for name, status, detail in g)
        if g
        else ""
    )
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    md = (
        f"""# Realtime benchmark

Generated by `bash bench/run {" ".join(o.argv)}` on {when}, in {elapsed / 60:.1f} minutes.
Do not edit by hand: run the benchmark again. How it works and what each figure means:
`bench/README.md`.

## Results

{table(results, markdown=True)}

`*` after C: connections only (setup rate and idle memory, nothing published).
Columns: setup/s = handshakes completed per second while opening C connections
({o.window} in flight); KiB/conn = (server RSS with C idle clients - RSS with none) / C;
pub/s = updates per second the publisher managed in the full-speed phase (its own
"emit from another process" call, awaited one at a time); deliv/s = deliveries per second in that
phase ({o.m_tp} updates at C=1,000, scaled by 1,000/C, at least 12: C x received / time from
first publish to last receipt); loss = expected - received in that phase; p50/p95/p99 =
publish-to-receive latency at {o.rate:g} updates/s ({o.m_lat} updates at C=1,000, scaled the same
way); CPU-s/1k = server
CPU-seconds (whole process tree, /proc) per 1,000 deliveries in the full-speed phase; LG CPU% =
the load generator's own CPU use in the full-speed phase (100% = one core: it would be the
bottleneck).

## Goals

| goal | status | figures |
|---|---|---|
"""
        + "\n".join(f"| {n} | {s} | {d} |" for n, s, d in g)
        + f"""

## Setup

- Payload: {size:,} bytes of JSON (a 20-node, 19-edge LogicFlow graph, `bench/peers/payload.py`),
  plus `message.bench = {{"t": publish time in µs, "seq": n}}`.
- Server under test pinned to core 0; load generator and publisher pinned to core 1
  (`taskset`). Redis (a system service shared by all systems) is not pinned.
- Clients offer permessage-deflate (as browsers do); whether it is used is the server's choice.
- Project: SQLite at `{setup.get("sqlite", "-")}`, instance `{setup.get("instance_id", "-")}`
  ({json.dumps(setup.get("steps", {}))}); every project publish is also recorded in the database
  by the project's store, as in production.
- Project code measured: {project_sources()}.

## Machine

{machine(calibration)}

## Commands

{commands(o, payload_path)}

## Versions

{versions()}

## Raw figures

```json
{json.dumps(results, indent=1, default=str)}
```
"""
    )
    return {"table": plain, "goals": goal_text, "markdown": md}
