"""Admin API: tasks (create, list, show, raw output, cancel)."""

from __future__ import annotations

import pytest

from orchestratia.hub.task_output import STORED, append_output

from ...helpers import ADMIN, Api, agent_and_running_task, next_message


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


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


async def test_long_output_is_served_whole_and_as_a_download(api: Api, hub) -> None:
    """More than 16 MiB (the old per-response cap) comes back in one response, from any offset,
    with X-Next-Offset at the end; ?download=1 names the file."""
    agent, task = await agent_and_running_task(api)
    tid = task["id"]
    mib = 1024 * 1024
    for i in range(17):
        piece = bytes([65 + i]) * (mib - 1) + b"\n"
        assert (await append_output(hub.store, agent["id"], tid, piece, offset=i * mib)).status == STORED
    total = 17 * mib
    r = await api.client.get(f"/api/admin/tasks/{tid}/output", headers=api.headers)
    assert r.status_code == 200 and len(r.content) == total and r.headers["X-Next-Offset"] == str(total)
    assert r.content[16 * mib:16 * mib + 3] == b"QQQ" and r.content.endswith(b"Q\n")
    assert "content-disposition" not in r.headers
    start = 5 * mib + 7
    r = await api.client.get(f"/api/admin/tasks/{tid}/output?offset={start}&download=1", headers=api.headers)
    assert len(r.content) == total - start and r.content[:1] == b"F" and r.headers["X-Next-Offset"] == str(total)
    assert r.headers["content-disposition"] == f'attachment; filename="task-{tid}.log"'
    r = await api.client.get(f"/api/admin/tasks/{tid}/output?offset={total + 5}", headers=api.headers)
    assert r.content == b"" and r.headers["X-Next-Offset"] == str(total + 5)
