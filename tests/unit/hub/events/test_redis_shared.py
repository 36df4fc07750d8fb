"""RedisBus's shared subscriber against the real Redis (127.0.0.1:6379): one pub/sub connection
for any number of subscriptions, and subscriptions that ride out Redis being away."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from pathlib import Path

import pytest
from redis import asyncio as aioredis

from orchestratia.hub.events import redis_shared
from orchestratia.hub.events.redis_bus import RedisBus
from orchestratia.protocol.events import AgentEvent, TaskOutputEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "faults"))
from tcp_proxy import CuttingProxy  # noqa: E402

pytestmark = pytest.mark.redis


async def _clients_named(redis_url: str, name: str) -> list[dict]:
    admin = aioredis.from_url(redis_url)
    try:
        return [c for c in await admin.client_list() if c.get("name") == name]
    finally:
        await admin.aclose()


async def test_300_subscriptions_share_one_connection(redis_url: str) -> None:
    """A connection per subscription ran out of redis-py's 100 at ~100 agents per replica."""
    bus = RedisBus(redis_url, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    try:
        async with contextlib.AsyncExitStack() as stack:
            subs = [await stack.enter_async_context(bus.subscribe(f"task:{i}")) for i in range(300)]
            await asyncio.gather(*(bus.publish(f"task:{i}", TaskOutputEvent.of_bytes(str(i), 0, b"x")) for i in range(300)))
            got = [await sub.get(timeout=5) for sub in subs]
            assert got == [TaskOutputEvent.of_bytes(str(i), 0, b"x") for i in range(300)]
            assert all(event.task_id == str(i) for i, event in enumerate(got))
            assert len(await _clients_named(redis_url, bus.client_name + ":sub")) == 1
            assert len(await _clients_named(redis_url, bus.client_name)) <= 32
    finally:
        await bus.close()


async def test_subscribed_while_redis_is_away_becomes_live(redis_url: str) -> None:
    """Subscribing does not raise while Redis is unreachable; once the shared connection is back
    the subscription receives, and its first get() says (None) that messages may be lost."""
    with CuttingProxy(6379, websocket_only=False) as link:
        link.block()
        bus = RedisBus(f"redis://127.0.0.1:{link.port}/0", prefix=f"test-{uuid.uuid4().hex[:8]}:")
        direct = RedisBus(redis_url, prefix=bus.prefix)
        try:
            async with bus.subscribe("hub") as sub:
                assert await sub.get(timeout=0.3) is None  # nothing yet, and no error
                link.unblock()
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 10
                while not sub.live and loop.time() < deadline:
                    await asyncio.sleep(0.05)
                assert sub.live, "the subscription did not become live after Redis came back"
                assert await sub.get(timeout=1) is None  # re-check the store
                await direct.publish("hub", AgentEvent(id="1", status="ONLINE"))
                assert await sub.get(timeout=5) == AgentEvent(id="1", status="ONLINE")
        finally:
            await bus.close()
            await direct.close()


async def test_lost_connection_resubscribes_and_says_none_once(redis_url: str) -> None:
    with CuttingProxy(6379, websocket_only=False) as link:
        bus = RedisBus(f"redis://127.0.0.1:{link.port}/0", prefix=f"test-{uuid.uuid4().hex[:8]}:")
        try:
            async with bus.subscribe("agent:a") as one, bus.subscribe("task:t") as two:
                assert one.live and two.live
                assert link.cut_now(everything=True) > 0
                for sub in (one, two):
                    assert await sub.get(timeout=10) is None
                await bus.publish("task:t", TaskOutputEvent.of_bytes("t", 0, b"y"))
                assert await two.get(timeout=5) == TaskOutputEvent.of_bytes("t", 0, b"y")
        finally:
            await bus.close()


async def test_an_overflowing_subscriber_drops_and_says_none(redis_url: str, monkeypatch) -> None:
    monkeypatch.setattr(redis_shared, "QUEUE_SIZE", 5)
    bus = RedisBus(redis_url, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    try:
        async with bus.subscribe("hub") as slow, bus.subscribe("hub") as fast:
            for i in range(8):
                await bus.publish("hub", AgentEvent(id=str(i), status="ONLINE"))
                assert (await fast.get(timeout=5)).id == str(i)  # the reader was not blocked
            got = [await slow.get(timeout=0.2) for _ in range(4)]
            assert got[0] is None, got  # five dropped, then "re-check the store"
            assert [e.id for e in got[1:] if e is not None] == ["5", "6", "7"]
    finally:
        await bus.close()
