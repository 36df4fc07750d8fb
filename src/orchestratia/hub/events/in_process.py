"""The bus of a single hub process: the published models are handed to subscribers' queues
directly (no serialisation)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from orchestratia.hub.events.bus import EventBus, Message, Subscription, queue_get

QUEUE_SIZE = 10_000


class _QueueSubscription(Subscription):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False

    def put(self, message: Message) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True  # a slow reader loses live messages, never the store

    async def get(self, timeout: float | None = None) -> Message | None:
        return await queue_get(self.queue, timeout)


class InProcessBus(EventBus):
    """One process: messages are handed to subscribers' queues directly."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[_QueueSubscription]] = {}

    async def publish(self, channel: str, message: Message) -> None:
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
