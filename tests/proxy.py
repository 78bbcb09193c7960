"""A TCP proxy for live tests: clients keep one address while the server behind it changes."""

import asyncio
import contextlib


class SwitchingProxy:
    """Forwards 127.0.0.1:<port> to a target port that a test can switch (like a balancer)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self._pipes: set[asyncio.Task] = set()

    async def start(self) -> "SwitchingProxy":
        """Listen on a free port."""
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def switch(self, target_port: int) -> None:
        """New connections go to ``target_port``; open ones are cut (as a dying server would)."""
        self.target_port = target_port
        for task in self._pipes:
            task.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._pipes.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            self._pipes.discard(task)
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except asyncio.CancelledError:
            pass
        finally:
            for w in (writer, up_writer):
                w.close()
            self._pipes.discard(task)

    async def stop(self) -> None:
        """Stop listening and cut every connection."""
        self.switch(self.target_port)
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
