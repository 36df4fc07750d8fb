"""Pub/sub for pushes and live viewers: :class:`InProcessBus` or :class:`RedisBus`.

Channels (docs/architecture.md): ``agent:{id}`` (hub → daemon pushes), ``task:{id}``
(output and status for live viewers), ``hub`` (task/agent/intervention changes).

A subscription is registered when ``subscribe`` returns (for Redis: the server confirmed
it), so a caller can subscribe first and then read the store without missing anything.
Delivery is at-most-once; readers that must not miss data re-check the store.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000


class Subscription(abc.ABC):
    """Messages of one channel, in publish order."""

    @abc.abstractmethod
    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message, or None when ``timeout`` passed first."""

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            message = await self.get()
            if message is not None:
                yield message


class EventBus(abc.ABC):
    @abc.abstractmethod
    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[Subscription]: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass


class _QueueSubscription(Subscription):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False

    def put(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True  # a slow reader loses live messages, never the store

    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        if timeout is None:
            return await self.queue.get()
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None


class InProcessBus(EventBus):
    """One process: messages are handed to subscribers' queues directly."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[_QueueSubscription]] = {}

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        for sub in list(self._subscribers.get(channel, ())):
            sub.put(message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        sub = _QueueSubscription()
        self._subscribers.setdefault(channel, set()).add(sub)
        try:
            yield sub
        finally:
            subs = self._subscribers.get(channel)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[channel]

    def subscriber_count(self, channel: str) -> int:
        return len(self._subscribers.get(channel, ()))


class _RedisSubscription(Subscription):
    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub

    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            wait = 1.0 if deadline is None else max(0.0, deadline - loop.time())
            raw = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
            if raw is not None and raw.get("type") == "message":
                try:
                    return orjson.loads(raw["data"])
                except orjson.JSONDecodeError:
                    log.warning("dropping a non-JSON message on %s", raw.get("channel"))
                    continue
            if deadline is not None and loop.time() >= deadline:
                return None


class RedisBus(EventBus):
    """Several hub replicas: Redis pub/sub (``redis.asyncio``)."""

    def __init__(self, url: str, prefix: str = "orchestratia:") -> None:
        from redis import asyncio as aioredis

        self.prefix = prefix
        self.client = aioredis.from_url(url)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        await self.client.publish(self.prefix + channel, orjson.dumps(message))

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        pubsub = self.client.pubsub()
        try:
            await pubsub.subscribe(self.prefix + channel)
            await self._confirmed(pubsub)
            yield _RedisSubscription(pubsub)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe()
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    @staticmethod
    async def _confirmed(pubsub: Any, timeout: float = 5.0) -> None:
        """Wait for the server's ``subscribe`` reply: from here on nothing is missed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            raw = await pubsub.get_message(timeout=max(0.0, deadline - loop.time()))
            if raw is not None and raw.get("type") == "subscribe":
                return
        raise TimeoutError("Redis did not confirm the subscription")

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def close(self) -> None:
        await self.client.aclose()


def make_bus(redis_url: str | None) -> EventBus:
    return RedisBus(redis_url) if redis_url else InProcessBus()
