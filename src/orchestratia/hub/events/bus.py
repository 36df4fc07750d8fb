"""Pub/sub for pushes and live viewers: :class:`InProcessBus` or :class:`RedisBus`.

Channels (docs/architecture.md): ``agent:{id}`` (hub → daemon pushes, :mod:`protocol.pushes`),
``task:{id}`` (output and status for live viewers) and ``hub`` (task/agent/intervention/token
changes), both :mod:`protocol.events`.

Only those typed models travel: ``publish`` takes one, a subscription yields them. In one
process the model object itself is handed over (it is never mutated: events are frozen, pushes
are only read); :class:`RedisBus` serialises it once (its JSON, ``model_dump(mode="json")``) and
parses it back on the other side with :func:`decode`, by channel.

A subscription is registered when ``subscribe`` returns (for Redis: the server confirmed
it), so a caller can subscribe first and then read the store without missing anything.
Delivery is at-most-once; readers that must not miss data re-check the store.

Implementations: ``in_process.InProcessBus`` (one process) and ``redis_bus.RedisBus`` (replicas).
"""

from __future__ import annotations

import asyncio

import abc
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Union

from orchestratia.protocol.events import AnyEvent, parse_event
from orchestratia.protocol.pushes import AGENT_CHANNEL_PREFIX, AnyPush, parse_push

log = logging.getLogger(__name__)

#: what travels on the bus: a hub event or a hub → agent push
Message = Union[AnyEvent, AnyPush]


def decode(channel: str, data: bytes | str) -> Message:
    """The message ``data`` (JSON) published on ``channel``: a push on ``agent:{id}``, else an
    event (a ``task:{id}`` event gets its task id from the channel). Raises
    ``pydantic.ValidationError`` for anything else."""
    if channel.startswith(AGENT_CHANNEL_PREFIX):
        return parse_push(data)
    return parse_event(data, channel=channel)


async def queue_get(queue: "asyncio.Queue[Any]", timeout: float | None) -> Any:
    """The next item of a subscription's local queue, or None when ``timeout`` passed first:
    the ``get`` of every queue-fed subscription (in process, and the shared Redis reader's)."""
    if timeout is None:
        return await queue.get()
    try:
        return await asyncio.wait_for(queue.get(), timeout)
    except asyncio.TimeoutError:
        return None


class Subscription(abc.ABC):
    """Messages of one channel, in publish order."""

    @abc.abstractmethod
    async def get(self, timeout: float | None = None) -> Message | None:
        """The next message, or None when ``timeout`` passed first, or when the subscription
        was re-established after its connection was lost (Redis): messages published
        meanwhile are gone, and a reader that must not miss any re-checks the store."""

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            message = await self.get()
            if message is not None:
                yield message


class EventBus(abc.ABC):
    #: publishes that failed (for /metrics)
    errors = 0

    @abc.abstractmethod
    async def publish(self, channel: str, message: Message) -> None: ...

    @abc.abstractmethod
    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[Subscription]: ...

    async def publish_safe(self, channel: str, message: Message) -> None:
        """Publish; a failure is logged, never raised (the store is the truth: a lost live
        message is re-read from it later)."""
        try:
            await self.publish(channel, message)
        except Exception:
            self.errors += 1
            log.exception("publishing on %s failed", channel)

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass
