"""The event buses: in-process, and Redis for real (127.0.0.1:6379)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from orchestratia.hub.events.bus import EventBus
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


async def test_subscribe_then_publish_in_order(bus: EventBus) -> None:
    async with bus.subscribe("task:1") as sub, bus.subscribe("task:2") as other:
        for i in range(50):
            await bus.publish("task:1", {"n": i, "text": "✓"})
        got = [await sub.get(timeout=5) for _ in range(50)]
        assert got == [{"n": i, "text": "✓"} for i in range(50)]
        assert await other.get(timeout=0.05) is None


async def test_no_subscriber_no_error_and_unsubscribe(bus: EventBus) -> None:
    await bus.publish("nobody", {"x": 1})
    async with bus.subscribe("c") as sub:
        pass
    await bus.publish("c", {"x": 2})
    async with bus.subscribe("c") as sub:
        await bus.publish("c", {"x": 3})
        assert await sub.get(timeout=5) == {"x": 3}


async def test_async_iteration(bus: EventBus) -> None:
    async with bus.subscribe("it") as sub:
        await bus.publish("it", {"a": 1})
        await bus.publish("it", {"a": 2})
        seen = []
        async for message in sub:
            seen.append(message["a"])
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
            await one.publish("agent:x", {"type": "task_cancel", "task_id": "t", "reason": "r"})
            assert await asyncio.wait_for(sub.get(), 5) == {"type": "task_cancel", "task_id": "t", "reason": "r"}
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
