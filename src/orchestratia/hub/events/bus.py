"""Pub/sub for pushes and live viewers: :class:`InProcessBus` or :class:`RedisBus`.

Channels (docs/architecture.md): ``agent:{id}`` (hub → daemon pushes), ``task:{id}``
(output and status for live viewers), ``hub`` (task/agent/intervention changes).

A subscription is registered when ``subscribe`` returns (for Redis: the server confirmed
it), so a caller can subscribe first and then read the store without missing anything.
Delivery is at-most-once; readers that must not miss data re-check the store.

Implementations: ``in_process.InProcessBus`` (one process) and ``redis_bus.RedisBus`` (replicas).
"""

from __future__ import annotations

import abc
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

log = logging.getLogger(__name__)


class Subscription(abc.ABC):
    """Messages of one channel, in publish order."""

    @abc.abstractmethod
    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message, or None when ``timeout`` passed first, or when the subscription
        was re-established after its connection was lost (Redis): messages published
        meanwhile are gone, and a reader that must not miss any re-checks the store."""

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

    async def publish_safe(self, channel: str, message: dict[str, Any]) -> None:
        """Publish; a failure is logged, never raised (the store is the truth: a lost live
        message is re-read from it later)."""
        try:
            await self.publish(channel, message)
        except Exception:
            log.exception("publishing on %s failed", channel)

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass
