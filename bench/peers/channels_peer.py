"""Peer 3: a textbook Channels consumer (group_add per consumer, group_send to publish).

It is its own Django settings module and its own ASGI module:
serve:   DJANGO_SETTINGS_MODULE=channels_peer REDIS_URL=... daphne -p PORT channels_peer:application
publish: python channels_peer.py publish REDIS_URL PAYLOAD_JSON COUNT RATE
"""

import asyncio
import json
import os
import sys

# --- settings -------------------------------------------------------------------------
SECRET_KEY = "bench-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels"]
USE_TZ = True
CHANNEL_LAYERS = {  # channels-redis core layer, default capacity (100) and expiry
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3")]},
    }
}
GROUP = "running_logger"

if __name__ != "__main__" and os.environ.get("BENCH_ROLE") != "publish":
    # --- the ASGI application (imported by daphne after settings are importable) -------
    import django

    django.setup()
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import path

    class RunningLoggerConsumer(AsyncWebsocketConsumer):
        async def connect(self):
            await self.channel_layer.group_add(GROUP, self.channel_name)
            await self.accept()

        async def disconnect(self, code):
            await self.channel_layer.group_discard(GROUP, self.channel_name)

        async def running_logger_update(self, event):
            await self.send(text_data=json.dumps(event["update"]))

    application = ProtocolTypeRouter(
        {"websocket": URLRouter([path("ws/running_logger/", RunningLoggerConsumer.as_asgi())])}
    )
elif __name__ == "__main__":
    del sys.argv[1]
    import pubcommon

    os.environ.update(REDIS_URL=sys.argv[1], BENCH_ROLE="publish")
    os.environ["DJANGO_SETTINGS_MODULE"] = "channels_peer"
    import django

    django.setup()
    from channels.layers import get_channel_layer

    async def main():
        _, payload, count, rate = pubcommon.args()
        layer = get_channel_layer()

        async def send(update):
            await layer.group_send(GROUP, {"type": "running_logger.update", "update": update})

        await pubcommon.apublish_loop(send, payload, count, rate)

    asyncio.run(main())
