"""SIGTERM on real daphne and uvicorn processes: clients told to reconnect, exit in time."""

import asyncio
import signal
import time

import pytest
import socketio
import websockets

from tests.clients import plain_ws

pytestmark = [pytest.mark.asyncio, pytest.mark.live]


@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
async def test_sigterm_closes_1012_disconnects_socketio_and_exits(live_servers, kind):
    server = live_servers.start(kind, env={"REALTIME_OPTIONS": '{{"SHUTDOWN_TIMEOUT": 5}}'})
    sio = socketio.AsyncClient(reconnection=False)
    reasons: list = []
    gone = asyncio.Event()

    def on_disconnect(*args):
        reasons.append(args)
        gone.set()

    sio.on("disconnect", on_disconnect, namespace="/running_logger")
    await sio.connect(server.http, namespaces=["/running_logger"], transports=["websocket"])
    polling = socketio.AsyncClient(reconnection=False)
    polling_gone = asyncio.Event()
    polling.on("disconnect", lambda *a: polling_gone.set(), namespace="/uia")
    await polling.connect(server.http, namespaces=["/uia"], transports=["polling"])
    async with plain_ws(f"{server.ws}/ws/running_logger/") as ws:
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        code = ws.close_code
    await asyncio.wait_for(gone.wait(), 10)
    await asyncio.wait_for(polling_gone.wait(), 40)
    exit_code = await asyncio.to_thread(server.proc.wait, 20)
    seconds = time.monotonic() - started
    print(
        f"\n{kind}: WebSocket close {code}, socket.io disconnect {reasons}, "
        f"exit {exit_code} after {seconds:.1f}s"
    )
    assert code == 1012
    assert seconds < 5 + 10
    log = server.proc.log_path.read_text()
    assert "Shutting down: closing" in log, log[-2000:]
    assert "Traceback" not in log, log[-3000:]
