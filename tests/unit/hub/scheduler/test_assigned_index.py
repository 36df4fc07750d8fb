"""A poll from an agent with nothing assigned answers without reading the store
(hub/assigned_index.py); it must never hide a task: not one assigned at creation, by the
scheduler, or while a poll was reading, nor one assigned before the hub restarted."""

from __future__ import annotations

import asyncio
from typing import Any

from ..helpers import Api, second_hub


async def test_polls_see_every_assignment(api: Api, hub) -> None:
    agent = await api.online("dev-1")
    assert await api.agent(agent, "GET", "/tasks/poll") == []
    assert hub.assigned.enabled and not hub.assigned.may_have(agent["id"])
    direct = await api.task(agent="dev-1")  # assigned at creation
    assert [t["id"] for t in await api.agent(agent, "GET", "/tasks/poll")] == [direct["id"]]
    await api.agent(agent, "POST", f"/tasks/{direct['id']}/start", json={})
    await api.agent(agent, "POST", f"/tasks/{direct['id']}/complete", json={"result": {"exit_code": 0}})
    assert await api.agent(agent, "GET", "/tasks/poll") == []
    queued = await api.task()  # queued, then assigned by the scheduler
    await hub.scheduler.tick()
    assert [t["id"] for t in await api.agent(agent, "GET", "/tasks/poll")] == [queued["id"]]


async def test_an_agent_without_room_keeps_its_assigned_task(api: Api, hub) -> None:
    agent = await api.online("dev-1", max_concurrent_tasks=1)
    first, second = await api.task(agent="dev-1"), await api.task(agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{first['id']}/start", json={})
    assert await api.agent(agent, "GET", "/tasks/poll") == []  # no room: nothing offered now
    await api.agent(agent, "POST", f"/tasks/{first['id']}/complete", json={"result": {"exit_code": 0}})
    assert [t["id"] for t in await api.agent(agent, "GET", "/tasks/poll")] == [second["id"]]


async def test_polls_racing_assignments_never_lose_one(api: Api, hub) -> None:
    agent = await api.online("dev-1", max_concurrent_tasks=50)
    created: list[str] = []

    async def create() -> None:
        for _ in range(20):
            created.append((await api.task(agent="dev-1"))["id"])

    async def poll() -> None:
        for _ in range(60):
            await api.agent(agent, "GET", "/tasks/poll")

    await asyncio.gather(create(), poll(), poll())
    seen = {t["id"] for t in await api.agent(agent, "GET", "/tasks/poll")}
    assert seen == set(created)


async def test_assignments_made_before_a_restart_are_offered(api: Api, settings_factory: Any) -> None:
    agent = await api.online("dev-1")
    task = await api.task(agent="dev-1")
    async with second_hub(settings_factory) as (_, again):  # another hub process on the same store
        assert [t["id"] for t in await again.agent(agent, "GET", "/tasks/poll")] == [task["id"]]
