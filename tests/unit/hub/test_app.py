"""The skeleton flow: login, token, register, heartbeat, poll, start, complete, show."""

from __future__ import annotations

from .helpers import BOTH_BACKENDS, Api


async def test_health(api: Api) -> None:
    r = await api.client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


async def test_task_runs_to_completed(api: Api) -> None:
    agent = await api.register("dev-1", repos={"app": "/srv/app"})
    await api.agent(agent, "POST", "/heartbeat", json={"system_info": {"cpu_count": 2}})
    task = await api.task(title="hello", spec="say hi", agent="dev-1", target_repo="app")
    assert task["status"] == "assigned"
    polled = await api.agent(agent, "GET", "/tasks/poll")
    assert [t["id"] for t in polled] == [task["id"]]
    assert polled[0]["spec"] == "say hi" and polled[0]["target_repo"] == "app"
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    await api.agent(agent, "POST", f"/tasks/{task['id']}/complete", json={"result": {"output_lines": 3}})
    shown = await api.admin("GET", f"/tasks/{task['id']}")
    assert shown["status"] == "completed" and shown["result"] == {"output_lines": 3}
    assert shown["agent"] == "dev-1"
    listed = await api.admin("GET", "/tasks")
    assert listed[0]["id"] == task["id"]


@BOTH_BACKENDS
async def test_guide_and_docs(api: Api) -> None:
    r = await api.client.get("/ORCHESTRATIA.md")
    assert r.status_code == 200 and "http://hub.test" in r.text and "{{HUB_URL}}" not in r.text
    assert "orchestratia agent register" in r.text
    assert (await api.client.get("/docs")).status_code == 200
    spec = (await api.client.get("/openapi.json")).json()
    assert "/api/v1/agents/register" in spec["paths"] and "/api/admin/tasks" in spec["paths"]
