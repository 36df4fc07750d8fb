"""The WebSocket to the hub (``/ws/agent``): header auth, ``hello``, pushes, reconnects.

:class:`HubSocket` keeps one connection up (exponential backoff with full jitter between
attempts) and calls back into the daemon:

- ``on_connected()`` -> the ``hello`` body's task list (``[{"task_id", "log_size"}]``);
- ``on_ready(resume: dict[task_id, next_offset] | None)`` once the hub answered ``resume``
  (or, ``None``, when it said nothing within ``hello_timeout``: a v1 hub without acks);
- ``on_message(msg)`` for ack / resend / task_assigned / task_cancel / intervention_answered;
- ``on_disconnected()``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
from typing import Any, Protocol

import websockets
from pydantic import BaseModel, ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from orchestratia import __version__
from orchestratia.protocol import (
    FEATURE_BINARY,
    FEATURE_OFFSETS,
    FEATURE_PUSH,
    WS_AUTH_CLOSE_CODE,
    WS_PATH,
    WsAuthError,
    WsAuthOk,
    WsHello,
    WsPing,
    WsPong,
    WsResume,
    dump,
    encode_output,
    parse_hub_message,
)
from orchestratia.protocol.frames import FEATURE_OUTPUT_FRAMES, encode_output_frame
from orchestratia.protocol.shared import wait_set
from orchestratia.protocol.workspace_actions import FEATURE_WORKSPACE_ACTIONS

from .client import ssl_context, tls_failure_message

log = logging.getLogger(__name__)
FEATURES = [FEATURE_OFFSETS, FEATURE_PUSH, FEATURE_BINARY, FEATURE_WORKSPACE_ACTIONS, FEATURE_OUTPUT_FRAMES]


def deflate() -> ClientPerMessageDeflateFactory:
    """permessage-deflate at zlib level 1 instead of websockets' default 6: deflate was 46 % of
    the daemon's samples in a 100 MB output run (~1.1 ms per 64 KiB at level 6, ~0.25 ms at
    level 1, with about the same size for text: 3.2 % vs 3.1 % of the bench's lines;
    2026-12-06, 2 cores). Compression stays on for hubs across a slow link."""
    return ClientPerMessageDeflateFactory(compress_settings={"level": 1, "memLevel": 5})


class SocketHandler(Protocol):
    def on_connected(self) -> list[dict[str, Any]]: ...
    async def on_ready(self, resume: dict[str, int] | None) -> None: ...
    async def on_message(self, msg: Any) -> None: ...
    def on_disconnected(self) -> None: ...


def ws_url(hub_url: str) -> str:
    base = hub_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + WS_PATH
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :] + WS_PATH
    return base + WS_PATH


def backoff_delay(attempt: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with jitter: uniform in [d/2, d], d = min(cap, base * 2**attempt)."""
    d = min(cap, base * (2 ** min(attempt, 16)))
    return random.uniform(d / 2, d)


class HubSocket:
    def __init__(self, hub_url: str, api_key: str, handler: SocketHandler, ca_bundle: str = "",
                 hello_timeout: float = 5.0, ping_interval: float = 30.0, backoff_base: float = 0.5,
                 backoff_cap: float = 60.0) -> None:
        self.url = ws_url(hub_url)
        self.api_key = api_key
        self.handler = handler
        self.ca_bundle = ca_bundle
        self.hello_timeout = hello_timeout
        self.ping_interval = ping_interval
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._conn: ClientConnection | None = None
        self.ready = False  # connected, authenticated, hello answered (or timed out)
        self.extended = False  # the hub answered hello with resume: acks and pushes work
        self.frames = False  # the hub's resume listed output_frames: output goes as binary frames
        self.auth_rejected: str | None = None
        self.connects = 0
        self._established = False

    @property
    def connected(self) -> bool:
        return self._conn is not None

    async def send(self, message: BaseModel | dict[str, Any]) -> bool:
        conn = self._conn
        if conn is None:
            return False
        text = dump(message) if isinstance(message, BaseModel) else json.dumps(message)
        try:
            await conn.send(text)
            return True
        except websockets.ConnectionClosed:
            return False

    async def send_output(self, task_id: str, data: bytes, offset: int) -> bool:
        """One chunk of a task's log: a binary frame when the hub speaks them, else ``output``."""
        conn = self._conn
        if conn is None:
            return False
        if not self.frames:
            return await self.send(encode_output(task_id, data, offset))
        try:
            await conn.send(encode_output_frame(task_id, data, offset))
            return True
        except websockets.ConnectionClosed:
            return False

    async def run(self, stop: asyncio.Event) -> None:
        attempt = 0
        while not stop.is_set():
            started = asyncio.get_running_loop().time()
            self._established = False
            try:
                await self._session(stop)
            except asyncio.CancelledError:
                raise
            except ssl.SSLCertVerificationError as err:
                log.error("WebSocket: %s", tls_failure_message(self.url, err, self.ca_bundle))
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError) as err:
                log.warning("WebSocket to %s: %s", self.url, err)
            except Exception:  # never let one bad message end the loop
                log.exception("WebSocket session failed")
            finally:
                self._down()
            if stop.is_set():
                break
            if self._established or asyncio.get_running_loop().time() - started > 30:
                attempt = 0  # the backoff grows over failed attempts, not over dropped connections
            delay = backoff_delay(attempt, self.backoff_base, 300.0 if self.auth_rejected else self.backoff_cap)
            attempt += 1
            log.info("WebSocket reconnecting in %.1f s", delay)
            await wait_set(stop, delay)

    def _down(self) -> None:
        was = self._conn is not None
        self._conn = None
        self.ready = self.extended = self.frames = False
        if was:
            self.handler.on_disconnected()

    async def _session(self, stop: asyncio.Event) -> None:
        kwargs: dict[str, Any] = {"ssl": ssl_context(self.ca_bundle)} if self.url.startswith("wss://") else {}
        async with connect(self.url, additional_headers={"X-API-Key": self.api_key}, open_timeout=15,
                           max_size=16 * 1024 * 1024, ping_interval=20, ping_timeout=20, extensions=[deflate()],
                           **kwargs) as conn:
            first = await self._first_message(conn)
            if isinstance(first, WsAuthError):
                self.auth_rejected = first.detail
                log.error("the hub rejected this agent's API key on the WebSocket (%s): the key was revoked or "
                          "is wrong; register again with `orchestratia agent register TOKEN`", first.detail)
                return
            if not isinstance(first, WsAuthOk):
                log.warning("WebSocket: expected auth_ok, got %s", getattr(first, "type", first))
            self.auth_rejected = None
            self._conn = conn
            self._established = True
            self.connects += 1
            tasks = self.handler.on_connected()
            await conn.send(dump(WsHello(agent_version=__version__, features=FEATURES, tasks=tasks)))
            log.info("WebSocket connected to %s", self.url)
            await self._receive(conn, stop)

    async def _first_message(self, conn: ClientConnection) -> Any:
        """The hub's answer to header auth. A hub that waits for the first-message way instead
        (PROTOCOL.md allows both) gets ``{"type": "auth"}`` after 5 s of silence."""
        try:
            raw = await asyncio.wait_for(conn.recv(), 5)
        except asyncio.TimeoutError:
            await conn.send(json.dumps({"type": "auth", "api_key": self.api_key}))
            raw = await asyncio.wait_for(conn.recv(), 10)
        try:
            return parse_hub_message(raw)
        except ValidationError:
            log.warning("WebSocket: unexpected first message from the hub: %.200r", raw)
            return None

    async def _receive(self, conn: ClientConnection, stop: asyncio.Event) -> None:
        ticker = asyncio.create_task(self._tick(conn))
        closer = asyncio.create_task(self._close_on(stop, conn))
        try:
            async for raw in conn:
                await self._dispatch(raw)
        except websockets.ConnectionClosed as err:
            if err.rcvd is not None and err.rcvd.code == WS_AUTH_CLOSE_CODE:
                self.auth_rejected = err.rcvd.reason or "closed 4401"
                log.error("the hub closed the WebSocket: API key rejected (%s)", self.auth_rejected)
            else:
                log.warning("WebSocket closed: %s", err)
        finally:
            for t in (ticker, closer):
                t.cancel()
            await asyncio.gather(ticker, closer, return_exceptions=True)

    @staticmethod
    async def _close_on(stop: asyncio.Event, conn: ClientConnection) -> None:
        await stop.wait()
        await conn.close()

    async def _tick(self, conn: ClientConnection) -> None:
        """v1 fallback when ``hello`` gets no ``resume``; application-level pings."""
        try:
            await asyncio.sleep(self.hello_timeout)
            if not self.ready:
                log.info("the hub did not answer hello: speaking v1 (no acks, no pushes)")
                self.ready = True
                await self.handler.on_ready(None)
            while True:
                await asyncio.sleep(self.ping_interval)
                await conn.send(dump(WsPing()))
        except websockets.ConnectionClosed:
            return

    async def _dispatch(self, raw: str | bytes) -> None:
        try:
            msg = parse_hub_message(raw)
        except ValidationError:
            log.debug("ignoring a hub message the agent does not know: %.200r", raw)
            return
        if isinstance(msg, WsPong):
            return
        if isinstance(msg, WsResume):
            self.extended = True
            self.frames = FEATURE_OUTPUT_FRAMES in (msg.features or ())
            first = not self.ready
            self.ready = True
            resume = {t.task_id: t.next_offset for t in msg.tasks}
            if first:
                await self.handler.on_ready(resume)
            else:
                await self.handler.on_message(msg)
            return
        await self.handler.on_message(msg)

