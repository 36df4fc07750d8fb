"""Extension POST /capabilities: the agent's runners, repos and labels stored at once; queued
tasks that now fit are assigned; hostile bodies refused; v1 agents never need it."""

from __future__ import annotations

from ...helpers import Api, wait_for


async def test_capabilities_update_the_agent_and_assign_what_now_fits(api: Api) -> None:
    dev = await api.online("dev-1", repos={"app": "/srv/app"}, runners=["claude"])
    waiting = await api.task(target_repo="app", runner="codex")
    assert waiting["queue_reason"] == "no agent with repo app has runner codex"
    body = {"runners": ["claude", "codex"], "repos": {"app": "/srv/app", "web": {"path": "/srv/web", "branch": "main"}},
            "labels": ["gpu"]}
    answer = await api.agent(dev, "POST", "/capabilities", json=body)
    assert answer["runners"] == ["claude", "codex"] and answer["repos"] == ["app", "web"]
    shown = await api.admin("GET", "/agents/dev-1")
    assert shown["runners"] == ["claude", "codex"] and shown["labels"] == ["gpu"] and "web" in shown["repos"]
    assert await wait_for(lambda: _assigned(api, waiting["id"]), 10, "the codex task assigned")


async def _assigned(api: Api, task_id: str) -> bool:
    return await api.status(task_id) == "assigned"


async def test_capabilities_refuse_hostile_bodies_and_need_a_key(api: Api) -> None:
    dev = await api.online("dev-1")
    for bad in ({"runners": ["x" * 101]}, {"repos": {"app": 3}}, {"repos": {"app": {"path": ["/x"]}}},
                {"labels": ["l"] * 201}, {"runners": "claude"}):
        r = await api.client.post("/api/v1/agents/capabilities", json=bad, headers=dev["headers"])
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"]
    r = await api.client.post("/api/v1/agents/capabilities", json={}, headers={"X-API-Key": "orc_nope"})
    assert r.status_code == 401
    assert (await api.admin("GET", "/agents/dev-1"))["runners"] is None  # unchanged by refusals
