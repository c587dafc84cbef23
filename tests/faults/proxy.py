"""A TCP proxy in the test's event loop, to cut the connection to PostgreSQL and give it back.

    proxy = await TcpProxy.start("127.0.0.1", 5432)   # the app's database URL names proxy.port
    await proxy.cut()        # every open connection is reset; new ones are refused (nothing listens)
    await proxy.restore()    # listening again, on the same port

The proxy only copies bytes, so it works for any PostgreSQL database on the server behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.connections: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.accepted = 0
        self.cut_at: float | None = None
        self.restored_at: float | None = None

    @classmethod
    async def start(cls, target_host: str, target_port: int) -> TcpProxy:
        proxy = cls(target_host, target_port)
        await proxy._listen()
        return proxy

    @property
    def is_cut(self) -> bool:
        return self.server is None

    def url_for(self, url: str) -> str:
        """The same database URL, through the proxy."""
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        return parsed.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    async def _listen(self) -> None:
        # SO_REUSEADDR (asyncio's default on Unix) lets the port be taken again at once after a cut
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and reset every open one, as a network failure would."""
        assert self.server is not None, "already cut"
        server, self.server = self.server, None
        server.close()
        for writer in list(self.connections):
            _reset(writer)
        self.connections.clear()
        await server.wait_closed()
        self.cut_at = time.monotonic()

    async def restore(self) -> None:
        assert self.server is None, "not cut"
        await self._listen()
        self.restored_at = time.monotonic()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self.connections):
                _reset(writer)
            await self.server.wait_closed()
            self.server = None
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.server is None:  # accepted in the very moment of a cut
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        self.accepted += 1
        self.connections.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.connections.discard(sink)
            with contextlib.suppress(Exception):
                sink.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), not a polite FIN: the peer sees the connection break."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.transport.abort()
