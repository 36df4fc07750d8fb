"""A task's workspace: asked for at creation (carried to the agent), reported by the agent
(``POST /api/v1/agents/tasks/{id}/workspace``), served by ``GET /api/admin/tasks/{id}/diff``."""

from __future__ import annotations

import httpx
import pytest

from orchestratia.hub.app import create_app

from ...helpers import Api, agent_and_running_task

DIFF = "diff --git a/a.txt b/a.txt\nnew file mode 100644\n--- /dev/null\n+++ b/a.txt\n@@ -0,0 +1 @@\n+hi \x1b[2J\n"
REPORT = {"kind": "worktree", "branch": "orchestratia/abc-fix", "base_ref": "main", "base_commit": "a" * 40,
          "head_commit": "b" * 40, "files_changed": 1, "insertions": 1, "deletions": 0, "committed": True,
          "files": [{"path": "a.txt", "insertions": 1, "deletions": 0, "binary": False, "status": "added"}],
          "diff": DIFF, "diff_truncated": False}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_workspace_request_reaches_the_agent(api: Api) -> None:
    agent = await api.register("dev-1")
    task = await api.task(agent="dev-1", workspace="worktree", base_ref="release-1")
    assert task["workspace_request"] == {"kind": "worktree", "base_ref": "release-1"} and task["workspace"] is None
    polled = await api.agent(agent, "GET", "/tasks/poll")
    assert (polled[0]["workspace"], polled[0]["base_ref"], polled[0]["branch"]) == ("worktree", "release-1", None)
    plain = await api.task(title="plain")
    assert plain["workspace_request"] is None
    r = await api.client.post("/api/admin/tasks", headers=api.headers,
                              json={"title": "t", "spec": "s", "base_ref": "a", "branch": "b"})
    assert r.status_code == 422 and "not both" in r.json()["detail"]
    r = await api.client.post("/api/admin/tasks", headers=api.headers,
                              json={"title": "t", "spec": "s", "workspace": "in_place", "branch": "b"})
    assert r.status_code == 422 and "worktree" in r.json()["detail"]
    r = await api.client.post("/api/admin/tasks", headers=api.headers,
                              json={"title": "t", "spec": "s", "workspace": "elsewhere"})
    assert r.status_code == 422 and "workspace" in r.json()["detail"]


async def test_agent_reports_and_admin_reads_the_diff(api: Api) -> None:
    agent, task = await agent_and_running_task(api)
    tid = task["id"]
    r = await api.admin("GET", f"/tasks/{tid}/diff", 404)
    assert "no workspace result yet" in r["detail"]
    assert await api.agent(agent, "POST", f"/tasks/{tid}/workspace", json=REPORT) == {"id": tid, "stored": True}
    shown = await api.admin("GET", f"/tasks/{tid}")
    assert shown["workspace"]["branch"] == "orchestratia/abc-fix" and shown["workspace"]["files_changed"] == 1
    assert "files" not in shown["workspace"] and "diff" not in shown["workspace"]
    r = await api.admin("GET", f"/tasks/{tid}/diff")
    assert r.headers["content-type"].startswith("text/x-diff") and r.text == DIFF
    stat = await api.admin("GET", f"/tasks/{tid}/diff?stat=1")
    assert stat["files"][0]["path"] == "a.txt" and stat["workspace"]["insertions"] == 1
    # a retry replaces the first report; the task then completes as usual
    await api.agent(agent, "POST", f"/tasks/{tid}/workspace", json={**REPORT, "diff": "", "diff_truncated": True})
    assert (await api.admin("GET", f"/tasks/{tid}/diff")).text == ""
    await api.agent(agent, "POST", f"/tasks/{tid}/complete", json={"result": {}})
    assert (await api.admin("GET", f"/tasks/{tid}"))["status"] == "completed"


async def test_only_the_tasks_agent_may_report(api: Api) -> None:
    _, task = await agent_and_running_task(api)
    other = await api.register("dev-2")
    await api.agent(other, "POST", f"/tasks/{task['id']}/workspace", 404, json=REPORT)
    await api.agent(other, "POST", "/tasks/garbage/workspace", 404, json=REPORT)
    bad = {**REPORT, "kind": "elsewhere"}
    agent = await api.register("dev-3")
    t = await api.running_task(agent)
    await api.agent(agent, "POST", f"/tasks/{t}/workspace", 422, json=bad)


async def test_a_diff_over_the_general_body_limit_is_taken(settings_factory) -> None:
    settings = settings_factory(max_body_bytes=64 * 1024)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            api = Api(client, app.state.hub)
            await api.login()
            agent, task = await agent_and_running_task(api)
            big = "+" + "x" * 1_000_000 + "\n"
            await api.agent(agent, "POST", f"/tasks/{task['id']}/workspace", json={**REPORT, "diff": big})
            r = await client.post("/api/admin/tasks", headers=api.headers,
                                  json={"title": "t", "spec": "x" * 100_000})
            assert r.status_code == 413  # every other route keeps the general limit
