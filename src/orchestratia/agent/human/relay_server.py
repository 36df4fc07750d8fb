"""The help relay's Unix socket: tasks' askers connect, send one ``ask`` (or ``ping``) line,
and get ``accepted``, ``keepalive`` lines and the final line (see ``wire.py``). Any number of
connections for the same request id share its outcome; an asker that lost its connection
reconnects with the same request id."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from orchestratia.agent.human import sockets
from orchestratia.agent.human import wire
from orchestratia.agent.human.requests import HelpRequest, RelayDoor

log = logging.getLogger("orchestratia.agent.human.relay")  # one logger for the whole relay


class RelayServer:
    def __init__(self, relay: RelayDoor, socket_path: Path) -> None:
        self.relay = relay
        self.socket_path = socket_path
        self.connections: set[asyncio.Task[Any]] = set()
        self.closing = False
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        sock = sockets.bind_private(self.socket_path)
        self._server = await asyncio.start_unix_server(self.on_connection, sock=sock, limit=wire.MAX_LINE_BYTES)

    def stop_listening(self) -> None:
        """No new connections; the socket file is removed (the next daemon binds it again)."""
        self.closing = True
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()

    def pending(self) -> list[asyncio.Task[Any]]:
        return [t for t in self.connections if not t.done()]

    async def wait_closed(self) -> None:
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5.0)
            self._server = None

    async def on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.connections.add(task)
        try:
            if not self.closing:
                await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the asker went away (it reconnects with the same request id) or we close
        except Exception:
            log.exception("help relay connection failed")
        finally:
            if task is not None:
                self.connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 30.0)
            message = wire.decode(line)
        except (ValueError, asyncio.TimeoutError, asyncio.LimitOverrunError) as exc:
            writer.write(wire.encode({"type": "error", "code": "bad_request", "detail": f"bad request line: {exc}"}))
            await writer.drain()
            return
        if message.get("op") == "ping":
            writer.write(wire.encode({"type": "pong"}))
            await writer.drain()
            return
        req_or_error = self.relay.admit(message)
        if isinstance(req_or_error, dict):
            writer.write(wire.encode(req_or_error))
            await writer.drain()
            return
        await self._stream(req_or_error, writer)

    async def _stream(self, req: HelpRequest, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[str] = asyncio.Queue()
        req.listeners.append(queue)
        started = time.monotonic()
        sent_accepted = False
        try:
            while True:
                if not sent_accepted and req.record.get("intervention_id"):
                    sent_accepted = True
                    writer.write(wire.encode({"type": "accepted", "request_id": req.request_id,
                                              "intervention_id": req.record["intervention_id"]}))
                if req.future.done():
                    writer.write(wire.encode(req.future.result()))
                    await writer.drain()
                    return
                await writer.drain()
                getter = asyncio.ensure_future(queue.get())
                try:
                    done, _ = await asyncio.wait({getter}, timeout=self.relay.keepalive_interval)
                finally:
                    getter.cancel()
                if self.closing:
                    return  # the asker reconnects to the next daemon
                if not done:
                    writer.write(wire.encode({"type": "keepalive", "waited_s": round(time.monotonic() - started, 1)}))
        finally:
            req.listeners.remove(queue)
