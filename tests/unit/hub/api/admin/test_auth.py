"""The admin API contract of docs/architecture.md."""

from __future__ import annotations

import asyncio

import pytest
import yaml

from orchestratia.protocol import hub_url_from_token

from .helpers import ADMIN, ADMIN_PASSWORD, Api, next_message


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_login_logout_me(api: Api) -> None:
    assert await api.admin("GET", "/me") == {"username": "admin"}
    r = await api.client.post(f"{ADMIN}/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    body = r.json()
    assert r.status_code == 200 and set(body) == {"token", "username", "expires_at"}
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert (await api.client.post(f"{ADMIN}/logout", headers=headers)).status_code == 204
    r = await api.client.get(f"{ADMIN}/me", headers=headers)
    assert r.status_code == 401 and "log in" in r.json()["detail"]
    r = await api.client.get(f"{ADMIN}/agents")
    assert r.status_code == 401


async def test_wrong_password_then_rate_limited(api: Api) -> None:
    for _ in range(5):
        r = await api.client.post(f"{ADMIN}/login", json={"username": "admin", "password": "nope"})
        assert r.status_code == 401 and r.json()["detail"] == "wrong username or password"
    r = await api.client.post(f"{ADMIN}/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 429 and "too many" in r.json()["detail"] and int(r.headers["Retry-After"]) >= 1
    r = await api.client.post(f"{ADMIN}/login", json={"username": "someone", "password": "x"})
    assert r.status_code == 401  # another username is not blocked


async def test_cookie_session_needs_csrf_for_unsafe_methods(api: Api) -> None:
    token = api.headers["Authorization"].split()[1]
    api.client.cookies.set("orc_session", token)
    api.client.cookies.set("orc_csrf", "c1")
    try:
        assert (await api.client.get(f"{ADMIN}/me")).json() == {"username": "admin"}
        r = await api.client.post(f"{ADMIN}/tokens", json={"label": "x"})
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
        r = await api.client.post(f"{ADMIN}/tokens", json={"label": "x"}, headers={"X-CSRF-Token": "c1"})
        assert r.status_code == 201
    finally:
        api.client.cookies.clear()


async def test_tokens_create_list_revoke(api: Api) -> None:
    created = await api.admin("POST", "/tokens", 201, json={"label": "web 1", "expires_in": "30m"})
    assert set(created) >= {"id", "label", "token", "expires_at", "config_snippet", "register_command"}
    assert hub_url_from_token(created["token"]) == "http://hub.test"
    assert created["register_command"] == f"orchestratia agent register {created['token']}"
    config = yaml.safe_load(created["config_snippet"])
    assert config["hub_url"] == "http://hub.test" and config["registration_token"] == created["token"]
    assert config["api_key"] == "" and config["agent_name"] == "web-1"
    assert config["claude"]["max_turns"] == 50 and config["session"]["backend"] == "screen"
    assert "path" in config["repos"]["your-repo-name"]
    listed = await api.admin("GET", "/tokens")
    assert [t["status"] for t in listed] == ["active"] and "token" not in listed[0]
    revoked = await api.admin("POST", f"/tokens/{created['id']}/revoke")
    assert revoked["status"] == "revoked"
    await api.admin("POST", "/tokens/00000000-0000-0000-0000-000000000000/revoke", 404)
    for bad in ("soon", "0h", "9999d"):
        r = await api.client.post(f"{ADMIN}/tokens", json={"expires_in": bad}, headers=api.headers)
        assert r.status_code == 422 and "expires_in" in r.json()["detail"]


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


async def test_tasks_create_list_show(api: Api) -> None:
    await api.register("dev-1")
    r = await api.client.post(f"{ADMIN}/tasks", json={"title": "x", "spec": "y", "agent": "ghost"}, headers=api.headers)
    assert r.status_code == 404 and "ghost" in r.json()["detail"]
    r = await api.client.post(f"{ADMIN}/tasks", json={"title": "", "spec": "y"}, headers=api.headers)
    assert r.status_code == 422 and "title" in r.json()["detail"]
    a = await api.task(title="a", agent="dev-1", runner="shell", timeout_minutes=5, approval_policy="risky")
    keys = {"id", "title", "spec", "status", "agent", "agent_id", "target_repo", "runner", "timeout_minutes",
            "approval_policy", "result", "error", "exit_code", "waiting_for_human", "output_size", "created_at",
            "assigned_at", "started_at", "finished_at"}
    assert set(a) >= keys and a["agent"] == "dev-1" and a["runner"] == "shell" and a["timeout_minutes"] == 5
    b = await api.task(title="b", target_repo="nowhere")  # stays queued
    assert [t["id"] for t in await api.admin("GET", "/tasks")] == [b["id"], a["id"]]
    assert [t["id"] for t in await api.admin("GET", "/tasks?status=assigned")] == [a["id"]]
    assert [t["id"] for t in await api.admin("GET", "/tasks?agent=dev-1")] == [a["id"]]
    assert len(await api.admin("GET", "/tasks?limit=1")) == 1
    await api.admin("GET", "/tasks?status=bogus", 422)
    await api.admin("GET", "/tasks?agent=ghost", 404)
    await api.admin("GET", f"/tasks/{a['id']}")
    await api.admin("GET", "/tasks/00000000-0000-0000-0000-000000000000", 404)
    await api.admin("GET", "/tasks/garbage", 404)
    await api.admin("GET", "/tasks/garbage/output", 404)


async def test_cancel(api: Api, hub) -> None:
    agent = await api.register("dev-1")
    queued = await api.task()
    assigned = await api.task(agent="dev-1")
    running = await api.task(agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{running['id']}/start", json={})
    async with hub.bus.subscribe(f"agent:{agent['id']}") as sub:
        done = await api.admin("POST", f"/tasks/{running['id']}/cancel", json={"reason": "enough"})
        assert done["status"] == "cancelled"
        assert await next_message(sub, type="task_cancel") == {"type": "task_cancel", "task_id": running["id"], "reason": "enough"}
    assert (await api.admin("POST", f"/tasks/{queued['id']}/cancel"))["status"] == "cancelled"
    assert (await api.admin("POST", f"/tasks/{assigned['id']}/cancel", json={}))["status"] == "cancelled"
    r = await api.client.post(f"{ADMIN}/tasks/{queued['id']}/cancel", headers=api.headers)
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]
    r = await api.client.post(f"/api/v1/agents/tasks/{running['id']}/complete", json={"result": {}}, headers=agent["headers"])
    assert r.status_code == 409


async def test_interventions_list_and_first_answer_wins(api: Api) -> None:
    agent = await api.register("dev-1")
    task = await api.task(title="needs help", agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    one = await api.agent(agent, "POST", f"/tasks/{task['id']}/help", 201, json={"question": "one"})
    two = await api.agent(agent, "POST", f"/tasks/{task['id']}/help", 201, json={"question": "two"})
    await api.admin("POST", f"/interventions/{one['id']}/answer", json={"response": "first"})
    listed = await api.admin("GET", "/interventions")
    assert [i["id"] for i in listed] == [two["id"], one["id"]]  # pending first
    item = listed[1]
    assert item["task_title"] == "needs help" and item["agent"] == "dev-1" and item["answered_by"] == "admin"
    assert [i["id"] for i in await api.admin("GET", "/interventions?status=pending")] == [two["id"]]
    results = await asyncio.gather(
        *(api.client.post(f"{ADMIN}/interventions/{two['id']}/answer", json={"response": f"r{i}"}, headers=api.headers)
          for i in range(5))
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409, 409]
    assert "first answer wins" in next(r.json()["detail"] for r in results if r.status_code == 409)
    await api.admin("POST", "/interventions/00000000-0000-0000-0000-000000000000/answer", 404, json={"response": "x"})


async def test_guide_and_docs(api: Api) -> None:
    r = await api.client.get("/ORCHESTRATIA.md")
    assert r.status_code == 200 and "http://hub.test" in r.text and "{{HUB_URL}}" not in r.text
    assert "orchestratia agent register" in r.text
    assert (await api.client.get("/docs")).status_code == 200
    spec = (await api.client.get("/openapi.json")).json()
    assert "/api/v1/agents/register" in spec["paths"] and "/api/admin/tasks" in spec["paths"]


async def test_expired_sessions_are_refused_and_purged(api: Api, hub) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select, update

    from orchestratia.hub.store.models import AdminSession, utcnow

    async with hub.write() as session:
        await session.execute(update(AdminSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = await api.client.get(f"{ADMIN}/me", headers=api.headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    await hub.scheduler.tick()
    async with hub.read() as session:
        assert (await session.execute(select(func.count()).select_from(AdminSession))).scalar_one() == 0
