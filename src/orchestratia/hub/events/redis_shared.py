"""The one Redis pub/sub connection a :class:`~orchestratia.hub.events.redis_bus.RedisBus` shares
among all of its process's subscriptions, and the subscriptions it feeds.

A connection per subscription (one per agent WebSocket and per live viewer) exhausted redis-py's
pool of 100 connections at ~100 agents per replica ("Too many connections": 1,293 errors with
200 simulated agents) and would take Redis's 10,000 clients at 10,000 agents. So one reader task
reads one connection and hands each message, decoded once, to the bounded queues of that
channel's local subscribers.

When the connection fails the reader reconnects with backoff and re-subscribes every channel that
still has subscribers; each of their ``get`` then returns None once (messages may have been lost:
re-check the store) instead of failing: a subscription that raised took the WebSocket handler
holding it down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError

from orchestratia.hub.events.bus import Message, Subscription, decode, queue_get

log = logging.getLogger(__name__)

#: a lost connection retries after RETRY_MIN_S, doubling up to RETRY_MAX_S: a restarted Redis is
#: back within a second or two, and a long outage costs one connect attempt every 2 s
RETRY_MIN_S = 0.1
RETRY_MAX_S = 2.0
#: how long ``subscribe`` waits for Redis to confirm a new channel before going on unconfirmed
CONFIRM_TIMEOUT_S = 5.0
#: messages one subscription may hold unread: a reader that falls this far behind loses live
#: messages (and gets None: re-check the store) rather than stalling every other subscriber or
#: growing without bound (an output event is up to 64 KiB)
QUEUE_SIZE = 1000
#: a partition that drops packets closes nothing: after IDLE_PING_S without a word the reader
#: PINGs, and without an answer within PONG_TIMEOUT_S it reconnects (and its subscribers get None)
IDLE_PING_S = 10.0
PONG_TIMEOUT_S = 5.0
#: what a lost or refused connection raises (redis-py wraps most in RedisError)
LINK_ERRORS = (RedisError, OSError, TimeoutError)


class Link:
    """Whether Redis answered the last time anything asked: one warning when it goes away and
    one when it is back, however many subscriptions and publishes notice."""

    def __init__(self) -> None:
        self.down_since: float | None = None

    def failed(self, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("Redis is unreachable (%s): pushes and live events wait; daemons' polls and "
                        "store re-reads cover them; retrying", " ".join(str(exc).split())[:200] or type(exc).__name__)

    def ok(self) -> None:
        if self.down_since is not None:
            log.warning("Redis is reachable again after %.1f s", time.monotonic() - self.down_since)
            self.down_since = None


class SharedSubscription(Subscription):
    def __init__(self, channel: str, name: str) -> None:
        self.channel = channel  # ours (decode reads it), ``name`` is Redis' (with the prefix)
        self.name = name
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue()  # bounded by ``put``
        self.live = False  # subscribed on the current connection
        self.lost = False  # owes its reader a None once it is live again

    def put(self, message: Message) -> None:
        if self.queue.qsize() >= QUEUE_SIZE:
            # the dropped messages are in the store: empty the queue and say so, once
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
        self.queue.put_nowait(message)

    def resubscribed(self) -> None:
        self.live = True
        if self.lost:
            self.lost = False
            self.queue.put_nowait(None)

    async def get(self, timeout: float | None = None) -> Message | None:
        return await queue_get(self.queue, timeout)


class SharedSubscriber:
    """One pub/sub connection and its reader task, for every subscription of a bus."""

    def __init__(self, client: Any, prefix: str, link: Link) -> None:
        self.client = client  # its own pool, no redis-py retries: the reader reconnects itself
        self.prefix = prefix
        self.link = link
        self.subs: dict[str, set[SharedSubscription]] = {}
        self.pubsub: Any = None  # None while disconnected
        self.sent: set[str] = set()  # SUBSCRIBE sent on the current connection
        self.confirmed: set[str] = set()  # ... and confirmed by Redis
        self.waiting: dict[str, asyncio.Future[None]] = {}
        self.down = False  # the last connection attempt failed: the reader is waiting to retry
        self._healthy = False  # Redis confirmed a channel since the last failure
        self._wake = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        # SUBSCRIBE/UNSUBSCRIBE are sent in the order they were decided, and never while the
        # reader is (re)connecting
        self._commands = asyncio.Lock()

    async def add(self, sub: SharedSubscription) -> None:
        """Registered at once; live when Redis confirms (waited for up to CONFIRM_TIMEOUT_S while
        connected). Never raises for Redis being away: the first ``get`` after it is live again
        returns None."""
        self.subs.setdefault(sub.name, set()).add(sub)
        if self._reader is None:
            self._reader = asyncio.create_task(self._run(), name="orchestratia-redis-subscriber")
        self._wake.set()
        async with self._commands:
            if self.pubsub is not None and sub.name in self.confirmed:
                sub.live = True
                return
            future = None
            if not self.down:  # connected, or the reader is connecting: wait for the reply
                future = self.waiting.get(sub.name)
                if future is None:  # before sending: the reply may be read before we return
                    future = self.waiting[sub.name] = asyncio.get_running_loop().create_future()
            if self.pubsub is not None and sub.name not in self.sent:
                self.sent.add(sub.name)
                try:
                    await self.pubsub.subscribe(sub.name)
                except LINK_ERRORS as exc:  # the reader notices too, and reconnects
                    self.link.failed(exc)
        if future is not None:
            await asyncio.wait({future}, timeout=CONFIRM_TIMEOUT_S)
        if not sub.live:
            sub.lost = True

    async def remove(self, sub: SharedSubscription) -> None:
        subs = self.subs.get(sub.name)
        if subs is None:
            return
        subs.discard(sub)
        if subs:
            return
        del self.subs[sub.name]
        async with self._commands:
            if sub.name in self.subs or self.pubsub is None or sub.name not in self.sent:
                return  # a subscriber came back meanwhile, or the channel is not subscribed
            self.sent.discard(sub.name)
            self.confirmed.discard(sub.name)
            try:
                await self.pubsub.unsubscribe(sub.name)
            except LINK_ERRORS as exc:
                self.link.failed(exc)

    async def _run(self) -> None:
        delay = RETRY_MIN_S
        while True:
            await self._wake.wait()  # nothing to subscribe to: no connection needed
            try:
                if not await self._connect():
                    continue
                await self._read()
            except LINK_ERRORS as exc:
                self.link.failed(exc)
            except Exception:  # noqa: BLE001 - the reader must outlive any surprise
                log.exception("the Redis subscriber failed; reconnecting")
            if self._healthy:
                delay, self._healthy = RETRY_MIN_S, False  # it was up: the first retry is quick
            await self._disconnect()
            await asyncio.sleep(delay)  # a refused connect fails at once: do not spin
            delay = min(delay * 2, RETRY_MAX_S)

    async def _connect(self) -> bool:
        """Subscribe every channel that has subscribers on a new connection (False: none)."""
        async with self._commands:
            names = list(self.subs)
            if not names:
                # idle: the next subscriber waits for the reader's next connection attempt
                self._wake.clear()
                self.down = False
                return False
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(*names)
            except BaseException:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
            self.pubsub, self.sent, self.confirmed, self.down = pubsub, set(names), set(), False
            for name in names:
                self.waiting.setdefault(name, asyncio.get_running_loop().create_future())
            return True

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        heard, pinged = loop.time(), None
        while True:
            raw = await self.pubsub.get_message(timeout=1.0)
            if raw is None:
                if pinged is not None and loop.time() - pinged > PONG_TIMEOUT_S:
                    raise TimeoutError(f"no PONG on the subscriber connection within {PONG_TIMEOUT_S:g} s")
                if pinged is None and loop.time() - heard > IDLE_PING_S:
                    async with self._commands:
                        await self.pubsub.ping()
                    pinged = loop.time()
                continue
            heard, pinged = loop.time(), None
            name = raw.get("channel")
            name = name.decode() if isinstance(name, bytes) else name
            if raw.get("type") == "subscribe":
                self._confirm(name)
            elif raw.get("type") == "message":
                self._deliver(name, raw["data"])

    def _confirm(self, name: str) -> None:
        self.link.ok()
        self._healthy = True
        again = name in self.confirmed  # redis-py reconnected by itself: messages were lost
        self.confirmed.add(name)
        for sub in self.subs.get(name, ()):
            if again:
                sub.lost = True
            sub.resubscribed()
        future = self.waiting.pop(name, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _deliver(self, name: str, data: bytes) -> None:
        subs = self.subs.get(name)
        if not subs:
            return
        channel = name[len(self.prefix):]
        try:
            message = decode(channel, data)  # once for all: models are never mutated
        except ValidationError as exc:  # another version's or a stranger's message
            log.warning("dropping a message on %s that is not one of ours (%s)", channel, exc.errors()[0]["msg"])
            return
        for sub in list(subs):
            sub.put(message)

    async def _disconnect(self) -> None:
        pubsub, self.pubsub, self.sent, self.confirmed, self.down = self.pubsub, None, set(), set(), True
        for subs in self.subs.values():
            for sub in subs:
                sub.live, sub.lost = False, True
        for future in self.waiting.values():  # their subscribers go on, unconfirmed
            if not future.done():
                future.set_result(None)
        self.waiting.clear()
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        await self._disconnect()
        await self.client.aclose()

