"""The project's publisher: its own API, realtime.publish.apublish_update, from another process.

Run with the project's venv from the repository root:
python bench/peers/project_publish.py REDIS_URL PAYLOAD_JSON COUNT RATE
(REDIS_URL, SQLITE_PATH and DJANGO_SETTINGS_MODULE come from the environment.)
"""

import asyncio
import os
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), os.getcwd()]
os.environ["DJANGO_SETTINGS_MODULE"] = "orderlines.settings"

import django  # noqa: E402
import pubcommon  # noqa: E402


async def main() -> None:
    django.setup()
    from realtime.publish import apublish_update

    _, payload, count, rate = pubcommon.args()
    instance_id = payload["process_instance_id"]

    async def send(update: dict) -> None:
        await apublish_update(instance_id, update["message"])

    await pubcommon.apublish_loop(send, payload, count, rate)


asyncio.run(main())
