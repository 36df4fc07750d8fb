"""The event buses: in-process, and Redis for real (127.0.0.1:6379)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from orchestratia.hub.events.bus import EventBus
from orchestratia.protocol import WsTaskCancel
from orchestratia.protocol.events import AgentEvent, TaskOutputEvent
from orchestratia.hub.events.in_process import InProcessBus
from orchestratia.hub.events.redis_bus import RedisBus


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def bus(request: pytest.FixtureRequest):
    if request.param == "memory":
        instance: EventBus = InProcessBus()
    else:
        url = request.getfixturevalue("redis_url")
        instance = RedisBus(url, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    yield instance
    await instance.close()


def _output(i: int) -> TaskOutputEvent:
    return TaskOutputEvent.of_bytes("1", i, "✓".encode())


async def test_subscribe_then_publish_in_order(bus: EventBus) -> None:
    """Typed events in, the same typed events out (a task channel's event gets its task id back
    from the channel when it crossed Redis as JSON)."""
    async with bus.subscribe("task:1") as sub, bus.subscribe("task:2") as other:
        for i in range(50):
            await bus.publish("task:1", _output(i))
        got = [await sub.get(timeout=5) for _ in range(50)]
        assert got == [_output(i) for i in range(50)]
        assert all(event.task_id == "1" for event in got)
        assert await other.get(timeout=0.05) is None


async def test_no_subscriber_no_error_and_unsubscribe(bus: EventBus) -> None:
    await bus.publish("hub", AgentEvent(id="1", status="ONLINE"))
    async with bus.subscribe("hub") as sub:
        pass
    await bus.publish("hub", AgentEvent(id="2", status="ONLINE"))
    async with bus.subscribe("hub") as sub:
        await bus.publish("hub", AgentEvent(id="3", status="ONLINE"))
        assert await sub.get(timeout=5) == AgentEvent(id="3", status="ONLINE")


async def test_async_iteration(bus: EventBus) -> None:
    async with bus.subscribe("hub") as sub:
        await bus.publish("hub", AgentEvent(id="1", status="ONLINE"))
        await bus.publish("hub", AgentEvent(id="2", status="OFFLINE"))
        seen = []
        async for message in sub:
            seen.append(int(message.id))
            if len(seen) == 2:
                break
        assert seen == [1, 2]


@pytest.mark.redis
async def test_hub_on_redis_pushes_across_buses(settings_factory, redis_url) -> None:
    """Two hub processes' buses share Redis: a publish on one reaches a subscriber on the other."""
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    one, two = RedisBus(redis_url, prefix), RedisBus(redis_url, prefix)
    try:
        async with two.subscribe("agent:x") as sub:
            await one.publish("agent:x", WsTaskCancel(task_id="t", reason="r"))
            assert await asyncio.wait_for(sub.get(), 5) == WsTaskCancel(task_id="t", reason="r")
    finally:
        await one.close()
        await two.close()


@pytest.mark.redis
async def test_whole_hub_on_redis_pushes_and_streams(settings_factory, redis_url) -> None:
    """A hub with ``redis_url``: pushes reach the WebSocket and SSE sees live output via Redis."""
    import json

    from websockets.asyncio.client import connect

    from orchestratia.hub.app import create_app
    from orchestratia.hub.events.redis_bus import RedisBus as Bus

    from ..conftest import LiveServer
    from ..helpers import Api

    app = create_app(settings_factory(redis_url=redis_url))
    async with LiveServer(app) as live:
        assert isinstance(live.hub.bus, Bus)
        import httpx

        async with httpx.AsyncClient(base_url=live.url, timeout=20) as client:
            api = Api(client, live.hub)
            await api.login()
            agent = await api.register("dev-1")
            async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
                await ws.recv()
                await ws.send(json.dumps({"type": "hello", "features": ["push"], "tasks": []}))
                task = await api.task(agent="dev-1")
                while (message := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] != "task_assigned":
                    pass
                assert message["task"]["id"] == task["id"]
                await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
                url = f"/api/admin/tasks/{task['id']}/stream"
                async with client.stream("GET", url, headers=api.headers) as response:
                    lines = response.aiter_lines()
                    await ws.send(json.dumps({"type": "output", "task_id": task["id"], "content": "via redis\n"}))


                    async def seen() -> None:
                        async for line in lines:
                            if line.startswith("data: ") and "via redis" in line:
                                return

                    await asyncio.wait_for(seen(), 10)


@pytest.mark.redis
async def test_redis_drops_a_message_that_is_not_one_of_ours(redis_url, caplog) -> None:
    """Another version's (or a stranger's) message on our channel is logged and skipped; the
    next message still arrives."""
    bus = RedisBus(redis_url, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    try:
        async with bus.subscribe("hub") as sub:
            await bus.client.publish(bus.prefix + "hub", b'{"kind": "weather", "sky": "blue"}')
            await bus.client.publish(bus.prefix + "hub", b"not json")
            await bus.publish("hub", AgentEvent(id="a", status="ONLINE"))
            assert await sub.get(timeout=5) == AgentEvent(id="a", status="ONLINE")
        assert sum("not one of ours" in r.getMessage() for r in caplog.records) == 2
    finally:
        await bus.close()
