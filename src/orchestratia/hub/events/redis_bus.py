"""The bus of several hub replicas: Redis pub/sub (``redis.asyncio``).

All of a process's subscriptions share ONE Redis connection: a reader task hands each message to
the local subscribers of its channel. A connection per subscription (one per agent WebSocket and
per live viewer) took redis-py's pool of 100 connections at ~100 agents ("Too many connections",
every later WebSocket failed: measured by ``benchmarks/bench_replicas.py``), and Redis's 10,000
clients at 10,000 agents. Publishes use a small blocking pool: a burst waits for a connection
instead of failing.

When the shared connection fails, every subscription open on it fails (its ``get`` raises
``ConnectionError``, as a subscription of its own would): its reader re-checks the store and
subscribes again on a fresh connection.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson

from orchestratia.hub.events.bus import EventBus, Subscription

log = logging.getLogger(__name__)
QUEUE_SIZE = 10_000
PUBLISH_CONNECTIONS = 32
_FAILED = object()


class _RedisSubscription(Subscription):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_SIZE + 1)
        self.failure: BaseException | None = None
        self.overflowed = False

    def put(self, message: dict[str, Any]) -> None:
        if self.queue.qsize() >= QUEUE_SIZE:
            self.overflowed = True  # a slow reader loses live messages, never the store
            return
        self.queue.put_nowait(message)

    def fail(self, exc: BaseException) -> None:
        self.failure = exc
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(_FAILED)

    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        if self.failure is not None:
            raise ConnectionError(f"the Redis subscription failed: {self.failure}")
        try:
            item = await (self.queue.get() if timeout is None else asyncio.wait_for(self.queue.get(), timeout))
        except asyncio.TimeoutError:
            return None
        if item is _FAILED:
            raise ConnectionError(f"the Redis subscription failed: {self.failure}")
        return item


class _SharedSubscriber:
    """One pub/sub connection and its reader task, for every subscription of the process."""

    def __init__(self, client: Any) -> None:
        self.pubsub = client.pubsub()
        self.subs: dict[str, set[_RedisSubscription]] = {}
        self.ready: dict[str, asyncio.Future[None]] = {}
        self.pending: dict[str, collections.deque[asyncio.Future[None]]] = collections.defaultdict(collections.deque)
        self.failure: BaseException | None = None
        self._reader: asyncio.Task[None] | None = None
        # one command at a time: redis-py's pub/sub connects lazily, and concurrent first
        # commands would each open a connection of their own (replies nobody reads)
        self._commands = asyncio.Lock()

    async def add(self, channel: str, sub: _RedisSubscription, timeout: float = 5.0) -> None:
        """Registered once Redis confirmed the channel: from then on nothing is missed."""
        self.subs.setdefault(channel, set()).add(sub)
        async with self._commands:  # decided and sent in order with any unsubscribe
            ready = self.ready.get(channel)
            if ready is None:
                ready = self.ready[channel] = asyncio.get_running_loop().create_future()
                self.pending[channel].append(ready)
                await self.pubsub.subscribe(channel)
                if self._reader is None:
                    self._reader = asyncio.create_task(self._read(), name="orchestratia-redis-bus")
        await asyncio.wait_for(asyncio.shield(ready), timeout)

    async def remove(self, channel: str, sub: _RedisSubscription) -> None:
        subs = self.subs.get(channel)
        if subs is None:
            return
        subs.discard(sub)
        async with self._commands:
            if self.subs.get(channel):  # another subscriber came meanwhile: keep the channel
                return
            self.subs.pop(channel, None)
            self.ready.pop(channel, None)
            if self.failure is None:
                with contextlib.suppress(Exception):
                    await self.pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        try:
            while True:
                raw = await self.pubsub.get_message(timeout=1.0)
                if raw is None:
                    continue
                channel = raw["channel"].decode() if isinstance(raw.get("channel"), bytes) else raw.get("channel")
                if raw["type"] == "subscribe":
                    waiting = self.pending.get(channel)
                    if waiting:
                        future = waiting.popleft()
                        if not future.done():
                            future.set_result(None)
                elif raw["type"] == "message":
                    self._deliver(channel, raw["data"])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every subscription hears of it
            log.warning("the Redis subscription connection failed: %s", exc)
            self._fail(exc)

    def _deliver(self, channel: str, data: bytes) -> None:
        subs = self.subs.get(channel)
        if not subs:
            return
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.warning("dropping a non-JSON message on %s", channel)
            return
        for sub in list(subs):
            sub.put(message)

    def _fail(self, exc: BaseException) -> None:
        self.failure = exc
        for subs in self.subs.values():
            for sub in subs:
                sub.fail(exc)
        for waiting in self.pending.values():
            for future in waiting:
                if not future.done():
                    future.set_exception(ConnectionError(str(exc)))
                    future.exception()  # retrieved: no "never retrieved" warning
        self.pending.clear()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()


class RedisBus(EventBus):
    """Several hub replicas: Redis pub/sub (``redis.asyncio``)."""

    def __init__(self, url: str, prefix: str = "orchestratia:") -> None:
        from redis import asyncio as aioredis

        self.prefix = prefix
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=PUBLISH_CONNECTIONS, timeout=10)
        self.client = aioredis.Redis(connection_pool=pool)
        self._shared: _SharedSubscriber | None = None
        self._retired: list[_SharedSubscriber] = []

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        await self.client.publish(self.prefix + channel, orjson.dumps(message))

    def _subscriber(self) -> _SharedSubscriber:
        if self._shared is not None and self._shared.failure is not None:
            self._retired.append(self._shared)  # closed with the bus (its reader has ended)
            self._shared = None
        if self._shared is None:
            self._shared = _SharedSubscriber(self.client)
        return self._shared

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        shared = self._subscriber()
        sub = _RedisSubscription()
        name = self.prefix + channel
        try:
            await shared.add(name, sub)
            yield sub
        finally:
            await shared.remove(name, sub)

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def close(self) -> None:
        for shared in [*self._retired, *([self._shared] if self._shared else [])]:
            await shared.close()
        self._shared, self._retired = None, []
        await self.client.aclose()
