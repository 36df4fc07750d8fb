"""The bus of several hub replicas: Redis pub/sub (``redis.asyncio``).

Redis may go away (restarted, a network partition) and come back while the hub runs. The bus
rides that out instead of failing its users: a subscription keeps retrying (redis-py reconnects
and re-subscribes the channels it knows), and once it is subscribed again ``get`` returns None,
which tells its reader that messages may have been lost meanwhile (``bus.Subscription``). A
publish that fails is dropped (the store is the truth). One warning per outage is logged, not
one per subscription or message: with Redis down every publish of every output chunk fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import ValidationError
from redis.exceptions import RedisError

from orchestratia.hub.events.bus import EventBus, Message, Subscription, decode

log = logging.getLogger(__name__)

#: without these a Redis that stops answering (a partition that drops packets) would hang a
#: publish, and with it the scheduler pass or the request that published, for as long as the
#: kernel keeps the socket (minutes)
SOCKET_TIMEOUT_S = 5.0
#: /readyz must answer within a probe's timeout even when Redis stops answering (without this
#: bound a PING waits SOCKET_TIMEOUT_S per attempt, with redis-py's retries)
PING_TIMEOUT_S = 1.5
#: a lost subscription retries after RETRY_MIN_S, doubling up to RETRY_MAX_S: a restarted Redis
#: is back within a second or two, and a long outage costs one connect attempt per subscriber
#: every 2 s
RETRY_MIN_S = 0.1
RETRY_MAX_S = 2.0
#: what a lost or refused connection raises (redis-py wraps most in RedisError)
LINK_ERRORS = (RedisError, OSError, TimeoutError)


class _Link:
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


class _RedisSubscription(Subscription):
    def __init__(self, pubsub: Any, channel: str, name: str, link: _Link, confirmed: bool) -> None:
        self.pubsub = pubsub
        self.channel = channel  # ours (decode reads it), ``name`` is Redis' (with the prefix)
        self.name = name
        self.link = link
        self.lost = not confirmed  # not (or no longer) subscribed: retrying
        self._delay = RETRY_MIN_S

    async def get(self, timeout: float | None = None) -> Message | None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            wait = 1.0 if deadline is None else max(0.0, deadline - loop.time())
            try:
                if not self.pubsub.subscribed:  # the first SUBSCRIBE never reached Redis
                    await self.pubsub.subscribe(self.name)
                raw = await self.pubsub.get_message(timeout=wait)
            except LINK_ERRORS as exc:
                raw = None
                self.lost = True
                self.link.failed(exc)
                pause = self._delay if deadline is None else min(self._delay, max(0.0, deadline - loop.time()))
                await asyncio.sleep(pause)  # a refused connect fails at once: do not spin
                self._delay = min(self._delay * 2, RETRY_MAX_S)
            if raw is not None and raw.get("type") == "subscribe" and self.lost:
                # subscribed again (redis-py re-subscribes on reconnect): whatever was published
                # meanwhile is gone, so say so (None) and let the reader re-check the store
                self.lost, self._delay = False, RETRY_MIN_S
                self.link.ok()
                return None
            if raw is not None and raw.get("type") == "message":
                try:
                    return decode(self.channel, raw["data"])
                except ValidationError as exc:  # another version's or a stranger's message
                    log.warning("dropping a message on %s that is not one of ours (%s)", self.channel, exc.errors()[0]["msg"])
                    continue
            if deadline is not None and loop.time() >= deadline:
                return None


class RedisBus(EventBus):
    """Several hub replicas: Redis pub/sub (``redis.asyncio``)."""

    def __init__(self, url: str, prefix: str = "orchestratia:") -> None:
        from redis import asyncio as aioredis

        self.prefix = prefix
        # options in the URL's query string win over these
        self.client = aioredis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S)
        self.link = _Link()

    async def publish(self, channel: str, message: Message) -> None:
        # orjson of the dict, not model_dump_json(): for a 64 KiB output event 16 us against 150 us
        # (pydantic's JSON string escaping); same JSON
        await self.client.publish(self.prefix + channel, orjson.dumps(message.model_dump(mode="json")))
        self.link.ok()

    async def publish_safe(self, channel: str, message: Message) -> None:
        """Like ``EventBus.publish_safe``, but a lost link is one warning per outage: while Redis
        is away every output chunk's publish fails, and a traceback each buried the hub's log."""
        try:
            await self.publish(channel, message)
        except LINK_ERRORS as exc:
            self.errors += 1
            self.link.failed(exc)
        except Exception:
            self.errors += 1
            log.exception("publishing on %s failed", channel)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        pubsub = self.client.pubsub()
        name = self.prefix + channel
        try:
            try:
                await pubsub.subscribe(name)
                await self._confirmed(pubsub)
                confirmed = True
            except LINK_ERRORS as exc:
                # Redis is away: the caller goes on (a daemon's WebSocket still carries its
                # output, a viewer still reads the store); the subscription keeps retrying and
                # its first get() after it succeeds returns None
                self.link.failed(exc)
                confirmed = False
            yield _RedisSubscription(pubsub, channel, name, self.link, confirmed)
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
        try:
            answered = bool(await asyncio.wait_for(self.client.ping(), PING_TIMEOUT_S))
        except asyncio.TimeoutError:
            self.link.failed(TimeoutError("no answer"))
            raise TimeoutError(f"no answer to PING within {PING_TIMEOUT_S:g} s") from None
        except LINK_ERRORS as exc:
            self.link.failed(exc)
            raise
        self.link.ok()
        return answered

    async def close(self) -> None:
        await self.client.aclose()
