"""The hub keeps ``API key → agent`` in memory (``AgentKeys`` in hub/liveness.py); a key that stops being valid
must stop working: at once in the hub process that revoked or rotated it, and in every other
hub process on the same store by its next liveness check."""

from __future__ import annotations

from typing import Any

import pytest

from orchestratia.hub.store.models import utcnow

from .helpers import BOTH_BACKENDS, Api, age_agent, next_message, second_hub


async def test_revoked_key_is_refused_at_once(api: Api) -> None:
    agent = await api.online("dev-1")
    await api.agent(agent, "GET", "/tasks/poll")  # the key is now known to this hub
    await api.admin("POST", f"/agents/{agent['id']}/revoke")
    r = await api.client.get("/api/v1/agents/tasks/poll", headers=agent["headers"])
    assert r.status_code == 401 and r.json()["detail"] == "API key revoked"


async def test_key_revoked_by_another_hub_process_stops_working_here(api: Api, settings_factory: Any) -> None:
    agent = await api.online("dev-1")
    await api.agent(agent, "GET", "/tasks/poll")
    async with second_hub(settings_factory) as (_, replica):
        await replica.admin("POST", f"/agents/{agent['id']}/revoke")
    await api.hub.liveness.check_liveness(utcnow())
    r = await api.client.get("/api/v1/agents/tasks/poll", headers=agent["headers"])
    assert r.status_code == 401 and r.json()["detail"] == "API key revoked"


async def test_key_rotated_by_reregistering_through_another_process(api: Api, settings_factory: Any) -> None:
    old = await api.online("dev-1")
    await api.agent(old, "GET", "/tasks/poll")
    async with second_hub(settings_factory) as (_, replica):
        new = await replica.register("dev-1", replace=True)  # same name (it is online: replace): a new key
    assert new["id"] == old["id"]
    await api.hub.liveness.check_liveness(utcnow())
    r = await api.client.get("/api/v1/agents/tasks/poll", headers=old["headers"])
    assert r.status_code == 401 and r.json()["detail"] == "unknown API key"
    assert await api.agent(new, "GET", "/tasks/poll") == []


@pytest.mark.parametrize("n", [3])
async def test_agents_keep_working_after_liveness_checks(api: Api, n: int) -> None:
    agents = [await api.online(f"dev-{i}") for i in range(n)]
    for _ in range(2):
        await api.hub.liveness.check_liveness(utcnow())
        for agent in agents:
            assert await api.agent(agent, "GET", "/tasks/poll") == []


@BOTH_BACKENDS
async def test_first_task_of_a_new_agent_is_not_lost_before_its_contact_is_written(api: Api, hub) -> None:
    agent = await api.register("dev-1")  # never seen: last_seen_at is null in the store
    task = await api.task(agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})  # contact, held in memory
    await hub.liveness.check_lost(utcnow())  # a liveness check racing the contact writer
    assert await api.status(task["id"]) == "running"


@BOTH_BACKENDS
async def test_lost_then_late_report_accepted(api: Api, hub) -> None:
    agent = await api.register("dev-1")
    task = await api.task(agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    await hub.scheduler.tick()
    assert await api.status(task["id"]) == "running"
    await age_agent(hub, agent["id"], hub.settings.lost_grace_s + 1)
    assert (await api.admin("GET", "/agents/dev-1"))["status"] == "OFFLINE"
    await hub.scheduler.tick()
    assert await api.status(task["id"]) == "lost"
    await api.agent(agent, "POST", f"/tasks/{task['id']}/complete", json={"result": {"exit_code": 0}})
    assert await api.status(task["id"]) == "completed"


@BOTH_BACKENDS
async def test_liveness_changes_are_published(api: Api, hub) -> None:
    agent = await api.online("dev-1")
    await hub.scheduler.tick()
    async with hub.bus.subscribe("hub") as sub:
        await age_agent(hub, agent["id"], 3600)
        await hub.scheduler.tick()
        message = await next_message(sub, kind="agent")
        assert message == {"kind": "agent", "id": agent["id"], "status": "OFFLINE"}
        await api.agent(agent, "GET", "/tasks/poll")
        assert await next_message(sub, kind="agent") == {"kind": "agent", "id": agent["id"], "status": "ONLINE"}
