"""The hub keeps ``API key → agent`` in memory (hub/agent_keys.py); a key that stops being valid
must stop working: at once in the hub process that revoked or rotated it, and in every other
hub process on the same store by its next liveness check."""

from __future__ import annotations

from typing import Any

import pytest

from orchestratia.hub.store.models import utcnow

from .helpers import Api, second_hub


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
    await api.hub.scheduler.check_liveness(utcnow())
    r = await api.client.get("/api/v1/agents/tasks/poll", headers=agent["headers"])
    assert r.status_code == 401 and r.json()["detail"] == "API key revoked"


async def test_key_rotated_by_reregistering_through_another_process(api: Api, settings_factory: Any) -> None:
    old = await api.online("dev-1")
    await api.agent(old, "GET", "/tasks/poll")
    async with second_hub(settings_factory) as (_, replica):
        new = await replica.register("dev-1")  # same name: the agent gets a new key
    assert new["id"] == old["id"]
    await api.hub.scheduler.check_liveness(utcnow())
    r = await api.client.get("/api/v1/agents/tasks/poll", headers=old["headers"])
    assert r.status_code == 401 and r.json()["detail"] == "unknown API key"
    assert await api.agent(new, "GET", "/tasks/poll") == []


@pytest.mark.parametrize("n", [3])
async def test_agents_keep_working_after_liveness_checks(api: Api, n: int) -> None:
    agents = [await api.online(f"dev-{i}") for i in range(n)]
    for _ in range(2):
        await api.hub.scheduler.check_liveness(utcnow())
        for agent in agents:
            assert await api.agent(agent, "GET", "/tasks/poll") == []
