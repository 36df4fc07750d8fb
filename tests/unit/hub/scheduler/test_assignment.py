"""Assignment: queued tasks to agents (repo, runner, room, least busy first, online only)."""

from __future__ import annotations

import pytest

from orchestratia.hub.store.models import Task

from ..helpers import Api, age_agent, next_message, wait_for


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_queued_task_waits_for_an_eligible_agent(api: Api, hub) -> None:
    task = await api.task(target_repo="web", runner="shell")
    assert task["status"] == "queued" and task["agent"] is None
    await api.online("no-repo", repos={"api": "/srv/api"}, runners=["shell"])
    await api.online("no-runner", repos={"web": "/srv/web"}, runners=["claude"])
    await hub.scheduler.tick()
    assert await api.status(task["id"]) == "queued"
    await api.online("good", repos={"web": "/srv/web"}, runners=["claude", "shell"])
    await hub.scheduler.tick()
    shown = await api.admin("GET", f"/tasks/{task['id']}")
    assert (shown["status"], shown["agent"]) == ("assigned", "good")


async def test_assignment_runs_on_its_own_when_kicked(api: Api) -> None:
    await api.online("dev-1")
    task = await api.task()

    async def assigned() -> bool:
        return await api.status(task["id"]) == "assigned"

    await wait_for(assigned, what="queued task assigned by the scheduler loop")


async def test_least_busy_first_and_room(api: Api, hub) -> None:
    busy = await api.online("busy", repos={"r": "/srv/r", "s": "/srv/s"})
    await api.online("idle", repos={"r": "/srv/r2", "s": "/srv/s2"})
    pinned = await api.task(agent="busy", target_repo="s")
    await api.agent(busy, "POST", f"/tasks/{pinned['id']}/start", json={})
    first = await api.task(target_repo="r")
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{first['id']}"))["agent"] == "idle"
    second = await api.task(target_repo="s")
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{second['id']}"))["agent"] == "idle"
    third = await api.task(target_repo="r")  # idle has 2 (full); busy has 1 and /srv/r free
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{third['id']}"))["agent"] == "busy"
    fourth = await api.task()  # everyone full
    await hub.scheduler.tick()
    assert await api.status(fourth["id"]) == "queued"


async def test_one_running_task_per_repo_directory_for_queued(api: Api, hub) -> None:
    agent = await api.online("solo", repos={"a": "/srv/a"})
    first = await api.task(target_repo="a")
    await hub.scheduler.tick()
    await api.agent(agent, "POST", f"/tasks/{first['id']}/start", json={})
    second = await api.task(target_repo="a")
    await hub.scheduler.tick()
    assert await api.status(second["id"]) == "queued"  # /srv/a is busy
    await api.agent(agent, "POST", f"/tasks/{first['id']}/complete", json={"result": {}})
    await hub.scheduler.tick()
    assert await api.status(second["id"]) == "assigned"


async def test_a_registered_agent_gets_queued_tasks_only_after_first_contact(api: Api, hub) -> None:
    task = await api.task()
    agent = await api.register("fresh")  # its daemon has not started yet
    await hub.scheduler.tick()
    assert await api.status(task["id"]) == "queued"
    async with hub.bus.subscribe("hub") as sub:
        await api.agent(agent, "GET", "/tasks/poll")  # the daemon's first contact
        assert await next_message(sub, kind="agent") == {"kind": "agent", "id": agent["id"], "status": "ONLINE"}

    async def assigned() -> bool:  # first contact kicks the scheduler loop
        return await api.status(task["id"]) == "assigned"

    await wait_for(assigned, what="the queued task assigned after the first contact")


async def test_offline_agents_get_nothing(api: Api, hub) -> None:
    agent = await api.register("gone")
    await age_agent(hub, agent["id"], 3600)
    task = await api.task()
    await hub.scheduler.tick()
    assert await api.status(task["id"]) == "queued"
    await api.agent(agent, "POST", "/heartbeat", json={"system_info": {}})
    await hub.scheduler.tick()
    assert await api.status(task["id"]) == "assigned"


async def test_revoked_agent_tasks_go_back_to_the_queue(api: Api, hub) -> None:
    agent = await api.online("dev-1")
    task = await api.task(agent="dev-1")
    revoked = await api.admin("POST", f"/agents/{agent['id']}/revoke")
    assert revoked["status"] == "REVOKED"
    shown = await api.admin("GET", f"/tasks/{task['id']}")
    assert (shown["status"], shown["agent"]) == ("queued", None)
    await api.online("dev-2")
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{task['id']}"))["agent"] == "dev-2"
    async with hub.store.read() as session:
        assert (await session.get(Task, task["id"])).assigned_at is not None
