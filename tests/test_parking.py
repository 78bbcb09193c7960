"""realtime.parking: a socket.io connection's read loop runs at the top of the ASGI stack."""

import asyncio
import warnings

import pytest

from realtime.parking import PARKED_LOOP, LoopSlot, run_or_park
from realtime.publish import apublish
from realtime.socketio import websocket
from tests.clients import SocketIOClient


async def test_a_parked_loop_runs_when_the_slot_is_run():
    ran = []

    async def loop() -> None:
        ran.append("loop")

    slot = LoopSlot()
    await run_or_park({PARKED_LOOP: slot}, loop())
    assert ran == []  # parked, not run
    await slot.take()
    assert ran == ["loop"]
    assert slot.take() is None  # taken: nothing left to run


async def test_without_a_slot_the_loop_runs_in_place():
    ran = []

    async def loop() -> None:
        ran.append("loop")

    await run_or_park({}, loop())
    assert ran == ["loop"]


async def test_a_second_loop_is_refused_and_closed():
    async def loop() -> None:
        pass

    slot = LoopSlot()
    slot.park(loop())
    second = loop()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would fail here
        with pytest.raises(RuntimeError, match="already parked"):
            slot.park(second)
    assert second.cr_frame is None  # closed
    await slot.take()


def await_chain(task: asyncio.Task) -> list[str]:
    """The qualified names of the coroutines a task is suspended in, outermost first."""
    names, awaited = [], task.get_coro()
    while awaited is not None and hasattr(awaited, "cr_code"):
        names.append(awaited.cr_code.co_qualname)
        awaited = awaited.cr_await
    return names


def socketio_connection_chains() -> list[list[str]]:
    chains = [await_chain(task) for task in asyncio.all_tasks()]
    return [chain for chain in chains if "serve_websocket" in chain]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("uvicorn_server", [False], indirect=True)
async def test_an_idle_socketio_connection_waits_at_the_top_of_the_stack(uvicorn_server, hub):
    # Without parking, the wait sits under the Engine.IO filter, python-socketio's and
    # python-engineio's ASGI apps, their request, connect and upgrade handlers and the driver.
    before = len(websocket._websockets)
    client = SocketIOClient("running_logger")
    await client.connect(f"http://127.0.0.1:{uvicorn_server}", transports=["websocket"])
    (chain,) = socketio_connection_chains()
    assert chain[:3] == [
        "WebSocketsSansIOProtocol.run_asgi",
        "ProxyHeadersMiddleware.__call__",
        "SendGuard.__call__",
    ]
    # ... and the loop awaits a bare Future on uvicorn's receive queue, not uvicorn's receive
    # and the queue's get (realtime.intake): nothing under it.
    assert chain[3:] == ["serve_websocket"], chain
    # ... and it still serves: broadcasts out, client events in (uvicorn pauses reading after
    # each one, and the intake resumes it), its end cleans up.
    await apublish("running_logger", "running_logger", {"n": 1})
    assert (await client.next())["message"] == {"n": 1}
    for _ in range(3):
        await client.client.emit("running_logger", "just a string", namespace="/running_logger")
    for _ in range(3):
        assert (await client.next())["message"]["code"] == "not_an_object"
    await client.disconnect()
    for _ in range(100):
        if not socketio_connection_chains() and len(websocket._websockets) == before:
            break
        await asyncio.sleep(0.05)
    assert socketio_connection_chains() == []
    assert len(websocket._websockets) == before
