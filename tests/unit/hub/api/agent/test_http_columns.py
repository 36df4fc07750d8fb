"""Values too large for their columns, on SQLite and PostgreSQL (PostgreSQL enforces the sizes):
a precise 422 where a client can fix it, and one agent's odd heartbeat never stops the hub from
storing every other agent's contacts (before, on PostgreSQL, an ``agent_version`` over 100
characters failed the batched contact write for good: no agent was ever seen again)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestratia.hub.store.models import Agent

from ...helpers import V1, Api


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_an_exit_code_past_int32_is_a_422_naming_it(api: Api) -> None:
    agent = await api.online()
    task_id = await api.running_task(agent)
    r = await api.client.post(f"{V1}/tasks/{task_id}/fail", json={"error": "x", "exit_code": 2**31}, headers=agent["headers"])
    assert r.status_code == 422 and "exit_code" in r.json()["detail"], r.text
    assert (await api.admin("GET", f"/tasks/{task_id}"))["status"] == "running"


async def test_a_complete_whose_exit_code_does_not_fit_keeps_it_in_the_result(api: Api) -> None:
    agent = await api.online()
    task_id = await api.running_task(agent)
    await api.agent(agent, "POST", f"/tasks/{task_id}/complete", json={"result": {"exit_code": 2**40}})
    task = await api.admin("GET", f"/tasks/{task_id}")
    assert task["status"] == "completed" and task["exit_code"] is None and task["result"] == {"exit_code": 2**40}


@pytest.mark.parametrize("field, limit", [("hostname", 500), ("ip", 100), ("os", 500), ("agent_version", 100)])
async def test_registration_text_past_its_column_is_a_422_naming_the_field(api: Api, field: str, limit: int) -> None:
    token = await api.token("long")
    body = {"name": "long", "registration_token": token, field: "x" * (limit + 1)}
    r = await api.client.post(f"{V1}/register", json=body)
    assert r.status_code == 422 and field in r.json()["detail"] and str(limit) in r.json()["detail"], r.text


async def test_a_long_agent_version_in_a_heartbeat_is_cut_to_its_column(api: Api) -> None:
    agent = await api.online()
    await api.agent(agent, "POST", "/heartbeat", json={"system_info": {}, "agent_version": "v" * 150})
    assert (await api.admin("GET", f"/agents/{agent['name']}"))["agent_version"] == "v" * 100


async def test_a_contact_the_store_refuses_does_not_stop_the_others(api: Api, hub, backend: str) -> None:
    """Straight through ``Hub.touch``: a value no route sends any more, but the batched write
    must not depend on every row being storable."""
    alice, bob = await api.online("alice"), await api.online("bob")
    async with hub.store.read() as session:
        rows = {a.name: a for a in (await session.get(Agent, alice["id"]), await session.get(Agent, bob["id"]))}
    odd = "v" * 150 if backend == "postgres" else "\ud800"  # too long for varchar(100) / not encodable
    await hub.liveness.touch(rows["alice"], agent_version=odd, system_info={"who": "alice"})
    await hub.liveness.touch(rows["bob"], system_info={"who": "bob"})
    await hub.liveness.flush_contacts()
    assert (await api.admin("GET", "/agents/bob"))["system_info"] == {"who": "bob"}
    shown = await api.admin("GET", "/agents/alice")
    assert shown["status"] == "ONLINE" and shown["last_seen_at"] is not None
