"""Real clients for live tests: python-socketio's AsyncClient and a plain WebSocket client."""

import asyncio
import json
from contextlib import asynccontextmanager
from typing import Any

import socketio
import websockets


class SocketIOClient:
    """An AsyncClient on one namespace that queues every event named after the namespace."""

    def __init__(self, namespace: str) -> None:
        self.namespace = f"/{namespace}"
        self.event = namespace
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        self.client.on(self.event, self._on_event, namespace=self.namespace)

    async def _on_event(self, data: Any, *rest: Any) -> None:
        await self.events.put(data)

    async def connect(self, base: str, transports: list[str] | None = None, **kwargs: Any) -> None:
        """Connect as the front end does (path /socket.io)."""
        await self.client.connect(
            base,
            namespaces=[self.namespace],
            socketio_path="socket.io",
            transports=transports,
            wait_timeout=10,
            **kwargs,
        )

    async def emit(self, payload: dict[str, Any]) -> None:
        """Emit the namespace's event."""
        await self.client.emit(self.event, payload, namespace=self.namespace)

    async def next(self, seconds: float = 5.0) -> Any:
        """The next event payload, under a timeout."""
        return await asyncio.wait_for(self.events.get(), seconds)

    async def nothing_within(self, seconds: float = 0.5) -> bool:
        """True if no event arrives within ``seconds``."""
        try:
            await asyncio.wait_for(self.events.get(), seconds)
        except TimeoutError:
            return True
        return False

    async def disconnect(self) -> None:
        """Disconnect; over long-polling python-socketio's client waits out its pending poll
        (about 30 s, seen against a vanilla python-socketio server too), so don't wait on it."""
        try:
            await asyncio.wait_for(self.client.disconnect(), 2)
        except TimeoutError:
            pass


@asynccontextmanager
async def plain_ws(url: str, **kwargs: Any):
    """A plain WebSocket client (the websockets library)."""
    async with websockets.connect(url, open_timeout=10, **kwargs) as ws:
        yield ws


async def next_json(ws: Any, seconds: float = 5.0) -> Any:
    """The next JSON text frame, under a timeout."""
    return json.loads(await asyncio.wait_for(ws.recv(), seconds))
