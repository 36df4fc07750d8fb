"""Keeps a replica's assigned index (``assigned_index.py``) in step with the other replicas'
assignments, through the ``hub`` channel on Redis.

Every assignment publishes a task event on ``hub`` after its commit. This replica subscribes
with a connection of its own, notes the ``assigned`` ones, and trusts its index only while it
cannot have missed one:

1. subscribe, and wait for Redis to confirm it (from then on every message is delivered);
2. read the agents with an assigned task from the store and note them (an assignment committed
   before that read is in it; one committed after is published after, so it arrives);
3. trust the index; note every ``assigned`` message.

Failure cases, each turning the index off (every poll reads the store) until 1–3 ran again:

* the connection fails or Redis restarts (a read error; the client never reconnects on its own:
  a silent reconnect would hide the messages of the gap);
* the connection is silently gone (a partition without a reset): no reply to a ``PING`` within
  ``ping_timeout_s``;
* Redis drops a slow subscriber (its output buffer limit): the connection closes;
* the store cannot be read for step 2.

Left: another replica that commits an assignment and then cannot publish it (cut from Redis,
or killed between the commit and the publish). Nobody hears of it, so every replica also re-reads
the agents with an assigned task every ``reconcile_s`` (one small indexed query): such a task
waits at most that long for a poll, and its agent's WebSocket (if any) gets it at once anyway on
its next connect (the scheduler does not filter by the index on replicas).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pydantic import ValidationError

from orchestratia.protocol.events import parse_event
from orchestratia.hub.scheduler.assigned_index import AssignedIndex
from orchestratia.hub.store.transactions import Store

log = logging.getLogger(__name__)


class AssignedFeed:
    def __init__(
        self,
        index: AssignedIndex,
        store: Store,
        redis_url: str,
        prefix: str,
        *,
        reconcile_s: float = 5.0,
        ping_s: float = 1.0,
        ping_timeout_s: float = 3.0,
    ) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.index = index
        self.store = store
        self.channel = prefix + "hub"
        # no retries: a reconnect made quietly inside the client would hide the gap's messages
        self.client = Redis.from_url(redis_url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=3.0)
        self.reconcile_s = reconcile_s
        self.ping_s = ping_s
        self.ping_timeout_s = ping_timeout_s
        #: times the index was (re)loaded from the store after a (re)subscription
        self.resyncs = 0
        self._task: asyncio.Task[None] | None = None
        self._pubsub: Any = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="orchestratia-assigned-feed")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.index.disable()
        with contextlib.suppress(Exception):
            await self.client.aclose()

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # polls read the store meanwhile: slower, never wrong
                log.warning("assigned index off (every poll reads the store) until Redis answers: %s", exc)
            finally:
                self.index.disable()
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # a cancel the store's driver swallowed
                raise asyncio.CancelledError
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _follow(self) -> None:
        pubsub = self.client.pubsub()
        self._pubsub = pubsub
        try:
            await pubsub.subscribe(self.channel)
            await self._confirmed(pubsub)
            await self._reload()
            self.resyncs += 1
            await self._listen(pubsub)
        finally:
            self._pubsub = None
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _confirmed(self, pubsub: Any) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ping_timeout_s
        while loop.time() < deadline:
            raw = await pubsub.get_message(timeout=max(0.0, deadline - loop.time()))
            if raw is not None and raw.get("type") == "subscribe":
                return
        raise TimeoutError("Redis did not confirm the subscription")

    async def _reload(self) -> None:
        async with self.store.read() as session:
            await self.index.load(session, exact=False)

    async def _listen(self, pubsub: Any) -> None:
        loop = asyncio.get_running_loop()
        next_ping = next_reconcile = loop.time()
        answered = loop.time()
        while True:
            now = loop.time()
            if now >= next_reconcile:
                await self._reload()
                next_reconcile = now + self.reconcile_s
            if now >= next_ping:
                await pubsub.ping()
                next_ping = now + self.ping_s
            if now - answered > self.ping_timeout_s:
                raise TimeoutError(f"Redis did not answer a PING within {self.ping_timeout_s:g} s")
            raw = await pubsub.get_message(timeout=max(0.01, min(next_ping, next_reconcile) - loop.time()))
            if raw is None:
                continue
            answered = loop.time()
            if raw.get("type") == "message":
                self._note(raw["data"])

    def _note(self, data: bytes) -> None:
        try:
            event = parse_event(data, channel="hub")
        except ValidationError:  # another version's or a stranger's message: not an assignment
            return
        self.index.note_event(event)
