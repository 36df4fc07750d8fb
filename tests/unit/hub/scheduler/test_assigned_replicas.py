"""The assigned index on replicas (PostgreSQL + Redis, hub/scheduler/assigned_feed.py): a poll
with nothing assigned reads nothing, a task assigned on one replica is found by a poll on the
other, and a replica cut from Redis (it misses messages) reads the store until it resynced."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from orchestratia.hub.app import create_app
from orchestratia.hub.events.redis_bus import RedisBus

from ..helpers import Api, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def backend() -> str:
    return "postgres"


class RedisGate:
    """A TCP proxy to Redis that can be closed (connections reset, new ones refused) and opened
    again on the same port: one replica partitioned from Redis."""

    def __init__(self, redis_url: str) -> None:
        rest = redis_url.split("://", 1)[1]
        hostport, _, self.db = rest.partition("/")
        host, _, port = hostport.partition(":")
        self.target = (host, int(port or 6379))
        self.server: asyncio.Server | None = None
        self.port = 0
        self.links: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/{self.db or 0}"

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            for w in (writer, up_writer):
                w.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@contextlib.asynccontextmanager
async def replica(settings_factory: Any, redis_url: str, prefix: str, name: str) -> AsyncIterator[Api]:
    application = create_app(settings_factory(redis_url=redis_url), bus=RedisBus(redis_url, prefix))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}.test") as client:
            api = Api(client, application.state.hub)
            await api.login()
            await wait_for(lambda: api.hub.assigned.enabled, what=f"{name}'s index in step")
            yield api


@pytest.fixture
async def replicas(settings_factory: Any, redis_url: str) -> AsyncIterator[tuple[Api, Api, RedisGate]]:
    """Replicas A and B on one PostgreSQL schema and one Redis (prefix); B reaches Redis through
    a gate."""
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    gate = RedisGate(redis_url)
    await gate.open()
    try:
        async with replica(settings_factory, redis_url, prefix, "a") as a:
            async with replica(settings_factory, gate.url, prefix, "b") as b:
                yield a, b, gate
    finally:
        await gate.close()


async def poll_ids(api: Api, agent: dict) -> list[str]:
    return [t["id"] for t in await api.agent(agent, "GET", "/tasks/poll")]


async def test_a_task_assigned_on_one_replica_is_polled_on_the_other(replicas) -> None:
    a, b, _ = replicas
    agent = await a.online("dev-1")
    assert await poll_ids(b, agent) == []
    assert not b.hub.assigned.may_have(agent["id"])  # nothing assigned: B's polls read nothing
    task = await a.task(agent="dev-1")  # assigned on A at creation
    found = await wait_for(lambda: poll_ids(b, agent), what="B's poll to offer A's task")
    assert found == [task["id"]]
    await b.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    assert await poll_ids(b, agent) == []
    assert not b.hub.assigned.may_have(agent["id"])
    queued = await b.task()  # queued on B, assigned by A's scheduler
    await a.hub.scheduler.tick()
    assert await wait_for(lambda: poll_ids(b, agent), what="B's poll to offer the queued task") == [queued["id"]]


async def test_a_replica_that_missed_messages_reads_the_store_until_it_resynced(replicas) -> None:
    a, b, gate = replicas
    agent = await a.online("dev-1", max_concurrent_tasks=10)
    assert await poll_ids(b, agent) == []
    resyncs = b.hub.assigned.feed.resyncs
    await gate.close()  # B is cut from Redis: what A publishes now never reaches B
    await wait_for(lambda: not b.hub.assigned.enabled, what="B to stop trusting its index")
    missed = await a.task(agent="dev-1")
    assert b.hub.assigned.may_have(agent["id"])
    assert await poll_ids(b, agent) == [missed["id"]]  # read from the store
    await gate.open()  # B resubscribes, re-reads the store, trusts its index again
    await wait_for(lambda: b.hub.assigned.enabled and b.hub.assigned.feed.resyncs > resyncs, timeout=20,
                   what="B to resync")
    assert await poll_ids(b, agent) == [missed["id"]]
    later = await a.task(agent="dev-1")  # delivered again
    await wait_for(lambda: b.hub.assigned.may_have(agent["id"]), what="B to hear of A's next assignment")
    assert set(await poll_ids(b, agent)) == {missed["id"], later["id"]}


async def test_polls_on_both_replicas_racing_assignments_never_lose_one(replicas) -> None:
    a, b, _ = replicas
    agent = await a.online("dev-1", max_concurrent_tasks=50)
    created: list[str] = []

    async def create(api: Api) -> None:
        for _ in range(10):
            created.append((await api.task(agent="dev-1"))["id"])

    async def poll(api: Api) -> None:
        for _ in range(30):
            await api.agent(agent, "GET", "/tasks/poll")

    await asyncio.gather(create(a), create(b), poll(a), poll(b))
    for api in (a, b):
        seen = await wait_for(lambda api=api: _all(api, agent, created),
                              what="every task offered")
        assert seen


async def _all(api: Api, agent: dict, created: list[str]) -> bool:
    return set(await poll_ids(api, agent)) == set(created)
