"""Admin API: agents."""

from __future__ import annotations

import pytest

from ...helpers import Api


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_agents_list_show_revoke(api: Api) -> None:
    agent = await api.register("dev-1", repos={"a": "/a"}, labels=["gpu"], agent_version="1.2", max_concurrent_tasks=3)
    task = await api.task(agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    listed = await api.admin("GET", "/agents")
    assert [a["name"] for a in listed] == ["dev-1"]
    shown = await api.admin("GET", f"/agents/{agent['id']}")
    keys = {"id", "name", "hostname", "ip", "os", "status", "last_seen_at", "created_at", "system_info", "repos",
            "runners", "labels", "agent_version", "max_concurrent_tasks", "running_tasks"}
    assert set(shown) >= keys
    assert shown["running_tasks"] == [task["id"]] and shown["max_concurrent_tasks"] == 3 and shown["labels"] == ["gpu"]
    await api.admin("GET", "/agents/nope", 404)
    await api.admin("POST", "/agents/nope/revoke", 404)
