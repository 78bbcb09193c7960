"""State first, then live, with no gap and no duplicate; resume after a gap; too-old gaps."""

import asyncio
import json

import pytest
from channels.testing import WebsocketCommunicator

from realtime import publish
from tests.stores import MemoryStore
from tests.test_consumers import APP, UPDATE, connect, new_instance, receive

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def memory_store(settings):
    settings.REALTIME = {**settings.REALTIME, "STORE": "tests.stores.MemoryStore"}


async def _publish_burst(key: str, count: int) -> None:
    for n in range(1, count + 1):
        await publish.apublish_update(key, {**UPDATE, "n": n})
        MemoryStore.instances[key] = {**UPDATE, "n": n}  # the state the store would answer


async def _drain_until_seq(client: WebsocketCommunicator, last: int) -> list[dict]:
    frames = []
    while not frames or frames[-1].get("seq") != last:
        frames.append(await receive(client, 10))
    return frames


async def test_burst_while_subscribing_has_no_gap_and_no_duplicate(hub):
    key = new_instance()
    burst = asyncio.ensure_future(_publish_burst(key, 200))
    await asyncio.sleep(0.05)  # the runner is mid-burst when the client subscribes
    client = await connect(f"/ws/running_logger/?process_instance_id={key}")
    await burst
    frames = await _drain_until_seq(client, 200)
    state, live = frames[0], frames[1:]
    assert state["topic"] == "running_logger" and state["seq"] is not None
    assert [f["seq"] for f in live] == list(range(state["seq"] + 1, 201))
    assert await client.receive_nothing(0.3)
    await client.disconnect()


async def test_resume_replays_what_was_missed_then_goes_live(hub):
    key = new_instance()
    await _publish_burst(key, 5)
    client = await connect("/ws/running_logger/")
    await client.send_json_to(
        {
            "action": "subscribe",
            "topic": "running_logger",
            "process_instance_id": key,
            "last_seq": 2,
        }
    )
    replayed = [await receive(client) for _ in range(3)]
    assert [f["seq"] for f in replayed] == [3, 4, 5]
    assert replayed[0]["msg"]["n"] == 3  # subscribe-style clients read updates under msg
    await publish.apublish_update(key, {**UPDATE, "n": 6})
    assert (await receive(client))["seq"] == 6
    assert await client.receive_nothing(0.3)
    await client.disconnect()


async def test_gap_older_than_retention_gets_resync_then_state(hub):
    key = new_instance()
    await _publish_burst(key, 10)
    MemoryStore.pruned_through[key] = 6  # events 1..6 are no longer kept
    client = await connect(f"/ws/running_logger/?process_instance_id={key}&last_seq=3")
    signal = await receive(client)
    assert signal == {
        "topic": "resync",
        "process_instance_id": key,
        "message": {"reason": "gap_too_old", "last_seq": 3},
    }
    state = await receive(client)
    assert state["topic"] == "running_logger" and state["seq"] == 10
    assert state["message"]["n"] == 10
    await client.disconnect()


async def test_process_start_gives_state_then_updates_without_overlap(hub):
    key = new_instance()
    await _publish_burst(key, 3)
    client = await connect("/ws/running_logger/")
    await client.send_json_to(
        {"topic": "running_logger", "msg": "process start", "process_instance_id": key}
    )
    state = await receive(client)
    assert state["seq"] == 3 and state["message"]["n"] == 3
    await publish.apublish_update(key, {**UPDATE, "n": 4})
    assert (await receive(client))["seq"] == 4
    await client.disconnect()


@pytest.mark.parametrize("last_seq", ["-1", "x", "1.5"])
async def test_bad_last_seq_is_an_error_and_the_client_still_follows(hub, last_seq):
    key = new_instance()
    communicator = WebsocketCommunicator(
        APP, f"/ws/running_logger/?process_instance_id={key}&last_seq={last_seq}"
    )
    assert (await communicator.connect(timeout=5))[0]
    error = json.loads(await communicator.receive_from(5))
    assert error["message"]["code"] == "bad_field"
    assert (await receive(communicator))["seq"] == 0  # the state, as without last_seq
    await communicator.disconnect()
