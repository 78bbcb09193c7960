"""Peer 2: python-socketio AsyncServer (ASGI) with AsyncRedisManager, run by uvicorn.

serve:   REDIS_URL=... uvicorn psio_uvicorn:app --host 127.0.0.1 --port PORT [...]
publish: python psio_uvicorn.py publish REDIS_URL PAYLOAD_JSON COUNT RATE
"""

import asyncio
import os
import sys

import socketio

if __name__ != "__main__":
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=socketio.AsyncRedisManager(os.environ["REDIS_URL"]),
        cors_allowed_origins="*",
    )

    @sio.on("connect", namespace="/running_logger")
    async def connect(sid, environ, auth=None):
        return True

    @sio.on("running_logger", namespace="/running_logger")
    async def running_logger(sid, data):
        pass  # the client contract's inbound event; unused here

    app = socketio.ASGIApp(sio)
else:
    del sys.argv[1]
    import pubcommon

    async def main():
        redis_url, payload, count, rate = pubcommon.args()
        manager = socketio.AsyncRedisManager(redis_url, write_only=True)

        async def send(update):
            await manager.emit("running_logger", update, namespace="/running_logger")

        await pubcommon.apublish_loop(send, payload, count, rate)

    asyncio.run(main())
