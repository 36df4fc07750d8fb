"""The bus of several hub replicas: Redis pub/sub (``redis.asyncio``).

All of a process's subscriptions share one pub/sub connection (``redis_shared``: a reader task
fans messages out to each subscription's bounded queue); publishes go through a small blocking
pool. Redis may go away (restarted, a network partition) and come back while the hub runs. The
bus rides that out instead of failing its users: the shared connection reconnects with backoff
and re-subscribes, and each subscription's ``get`` then returns None once, which tells its reader
that messages may have been lost meanwhile (``bus.Subscription``). Subscribing while Redis is away
does not raise. A publish that fails is dropped (the store is the truth). One warning per outage
is logged, not one per subscription or message: with Redis down every publish of every output
chunk fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import orjson

from orchestratia.hub.events.bus import EventBus, Message, Subscription
from orchestratia.hub.events.redis_shared import LINK_ERRORS, Link, SharedSubscriber, SharedSubscription

log = logging.getLogger(__name__)

#: without these a Redis that stops answering (a partition that drops packets) would hang a
#: publish, and with it the scheduler pass or the request that published, for as long as the
#: kernel keeps the socket (minutes)
SOCKET_TIMEOUT_S = 5.0
#: /readyz must answer within a probe's timeout even when Redis stops answering (without this
#: bound a PING waits SOCKET_TIMEOUT_S per attempt, with redis-py's retries)
PING_TIMEOUT_S = 1.5
#: publishes share at most this many connections; a burst waits (up to SOCKET_TIMEOUT_S) for one
#: instead of failing: redis-py's default pool of 100 failed with "Too many connections"
PUBLISH_CONNECTIONS = 32


class RedisBus(EventBus):
    """Several hub replicas: Redis pub/sub (``redis.asyncio``)."""

    def __init__(self, url: str, prefix: str = "orchestratia:") -> None:
        from redis import asyncio as aioredis
        from redis.backoff import NoBackoff
        from redis.asyncio.retry import Retry

        self.prefix = prefix
        #: this bus's connections in CLIENT LIST: ``{client_name}`` publishes, ``{client_name}:sub``
        #: is the shared subscriber
        self.client_name = f"orchestratia-{uuid.uuid4().hex[:8]}"
        timeouts = {"socket_timeout": SOCKET_TIMEOUT_S, "socket_connect_timeout": SOCKET_TIMEOUT_S}
        # options in the URL's query string win over these
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=PUBLISH_CONNECTIONS, timeout=SOCKET_TIMEOUT_S, client_name=self.client_name, **timeouts)
        self.client = aioredis.Redis(connection_pool=pool)
        # no redis-py retries on the subscriber: a silent reconnect would hide lost messages
        sub_client = aioredis.from_url(url, client_name=self.client_name + ":sub", retry=Retry(NoBackoff(), 0), **timeouts)
        self.link = Link()
        self.shared = SharedSubscriber(sub_client, prefix, self.link)

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
        # Redis away: the caller goes on (a daemon's WebSocket still carries its output, a viewer
        # still reads the store); the subscription's first get() once it is live returns None
        sub = SharedSubscription(channel, self.prefix + channel)
        try:
            await self.shared.add(sub)
            yield sub
        finally:
            await self.shared.remove(sub)

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
        await self.shared.close()
        await self.client.aclose()
