"""A small TCP proxy on loopback that can cut connections: put it between a daemon and the hub
(the daemon's ``hub_url`` points at the proxy) and drop its WebSocket every few hundred ms.

It runs its own event loop in a background thread, so a synchronous test can drive it."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import threading
import time


class CuttingProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1", *, cut_every: tuple[float, float] | None = None,
                 websocket_only: bool = True, seed: int = 1):
        self.target = (target_host, target_port)
        self.cut_every = cut_every
        self.websocket_only = websocket_only
        self.random = random.Random(seed)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.cuts = 0
        self.connections = 0
        self.websockets = 0
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter, bool]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="cutting-proxy", daemon=True)
        self._ready = threading.Event()
        self._stopping = False
        self.blocked = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "CuttingProxy":
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")
        return self

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def set_cutting(self, cut_every: tuple[float, float] | None) -> None:
        """Start (a (min, max) seconds interval) or stop (None) cutting."""
        self.cut_every = cut_every

    def block(self) -> int:
        """A partition: every connection reset now, and every new one reset at once, until
        :meth:`unblock`. Returns how many were cut."""
        self.blocked = True
        return self.cut_now(everything=True)

    def unblock(self) -> None:
        self.blocked = False

    def cut_now(self, everything: bool = False) -> int:
        return asyncio.run_coroutine_threadsafe(self._cut(everything), self._loop).result(10)

    def __enter__(self) -> "CuttingProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ event loop side

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.run_forever()

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self._cutter = asyncio.ensure_future(self._cut_loop())
        self._ready.set()

    async def _shutdown(self) -> None:
        self._cutter.cancel()
        self._server.close()
        await self._cut(everything=True)

    async def _cut_loop(self) -> None:
        while True:
            if self.cut_every:
                await asyncio.sleep(self.random.uniform(*self.cut_every))
                if self.cut_every:
                    await self._cut()
            else:
                await asyncio.sleep(0.05)

    async def _cut(self, everything: bool = False) -> int:
        n = 0
        for client_w, server_w, is_ws in list(self._conns):
            if everything or is_ws or not self.websocket_only:
                for w in (client_w, server_w):
                    with contextlib.suppress(Exception):
                        w.transport.abort()  # RST, like a dead network path, not a clean close
                n += 1
        self.cuts += n
        return n

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.blocked:
            client_w.transport.abort()
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            return
        try:
            first = await client_r.read(65536)
        except (ConnectionError, OSError):
            first = b""
        is_ws = b"upgrade: websocket" in first.lower()
        self.websockets += is_ws
        entry = (client_w, server_w, is_ws)
        self._conns.add(entry)
        try:
            if first:
                server_w.write(first)
            await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))
        finally:
            self._conns.discard(entry)
            for w in (client_w, server_w):
                with contextlib.suppress(Exception):
                    w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                if writer.can_write_eof():
                    writer.write_eof()


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
