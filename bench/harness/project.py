"""This project's side: its database, a process instance to publish for, its environment."""

import os
import subprocess
from pathlib import Path

from .systems import PROJECT_BIN, ROOT

SQLITE = "project.sqlite3"
PROJECT_DB = 5
_sqlite_path: Path | None = None

CREATE_INSTANCE = """
from orderlines.models import Process, ProcessInstance
process = Process.objects.order_by("pk").first()
print("process_instance_id=" + ProcessInstance.objects.create(process=process).process_instance_id)
"""


def _env(redis_url: str) -> dict:
    return {
        "REDIS_URL": redis_url,
        "SQLITE_PATH": str(_sqlite_path),
        "DATABASE_URL": None,
        "DJANGO_SETTINGS_MODULE": "orderlines.settings",
        "DEBUG": "0",
        # The peers have no authentication and all load comes from 127.0.0.1: let
        # anonymous clients in and lift the per-address connection cap (default 100).
        "REALTIME_ALLOW_ANONYMOUS": "1",
        "REALTIME_OPTIONS": '{"MAX_CONNECTIONS_PER_ADDRESS": 0}',
    }


def server_env(redis_url: str) -> dict:
    """Environment of the project's server processes."""
    return _env(redis_url)


def publisher_env(redis_url: str) -> dict:
    """Environment of the project's publisher."""
    return _env(redis_url)


def _manage(args: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    full = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    return subprocess.run(
        [str(PROJECT_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _instance_id(output: str) -> str | None:
    for line in output.splitlines():
        if line.startswith("process_instance_id="):
            return line.split("=", 1)[1].strip()
    return None


def prepare(results: Path) -> dict:
    """A fresh SQLite database, migrated, with one process instance; or {"error": why}."""
    global _sqlite_path
    _sqlite_path = results / SQLITE
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{_sqlite_path}{suffix}").unlink(missing_ok=True)
    env = _env(f"redis://127.0.0.1:6379/{PROJECT_DB}")
    if not (PROJECT_BIN / "python").exists():
        return {"error": f"no project venv at {PROJECT_BIN.parent} (bench/run creates it)"}
    steps = {}
    try:
        done = _manage(["migrate", "--noinput"], env, 300)
        steps["migrate"] = done.returncode
        if done.returncode != 0:
            return {"error": f"migrate failed: {done.stderr.strip()[-400:]}"}
        done = _manage(["run_process", "demo", "--step-delay", "0"], env, 120)
        steps["run_process demo"] = done.returncode
        instance = _instance_id(done.stdout)
        if instance is None:  # fall back on the ORM
            done = _manage(["shell", "-c", CREATE_INSTANCE], env, 120)
            steps["orm"] = done.returncode
            instance = _instance_id(done.stdout)
        if instance is None:
            return {"error": f"could not create a process instance: {done.stderr[-400:]}"}
    except subprocess.TimeoutExpired as exc:
        return {"error": f"timed out: {exc.cmd}"}
    return {"instance_id": instance, "sqlite": str(_sqlite_path), "steps": steps}
