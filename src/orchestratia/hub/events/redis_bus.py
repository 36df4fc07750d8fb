"""The bus of several hub replicas: Redis pub/sub (``redis.asyncio``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson

from orchestratia.hub.events.bus import EventBus, Subscription

log = logging.getLogger(__name__)


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
