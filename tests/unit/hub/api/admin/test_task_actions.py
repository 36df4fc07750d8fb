"""Push / pull request / discard of a finished task's branch through the hub: what the admin API
refuses (and says why), the queue a daemon fetches, the outcome it reports, and the push to a
daemon's WebSocket only when it said it can read it."""

from __future__ import annotations

from typing import Any

from orchestratia.hub.store.models import Agent as AgentRow
from orchestratia.protocol.pushes import agent_channel

from ...helpers import BOTH_BACKENDS, Api, next_message

WS = {"kind": "worktree", "branch": "orchestratia/abcd1234-fix", "base_ref": "main", "base_commit": "a" * 40,
      "head_commit": "b" * 40, "files_changed": 1, "insertions": 1, "deletions": 0, "committed": True, "note": ""}
FEATURES = {"features": ["workspace_actions"]}


async def finished_task(api: Api, agent: dict[str, Any], workspace: dict[str, Any] | None = WS) -> str:
    task_id = await api.running_task(agent)
    if workspace is not None:
        await api.agent(agent, "POST", f"/tasks/{task_id}/workspace", json={**workspace, "files": [], "diff": ""})
    await api.agent(agent, "POST", f"/tasks/{task_id}/complete", json={"result": {}})
    return task_id


async def capable(api: Api, name: str = "dev-1") -> dict[str, Any]:
    agent = await api.online(name)
    await api.agent(agent, "POST", "/capabilities", json=FEATURES)
    return agent


@BOTH_BACKENDS
async def test_push_is_queued_fetched_and_its_outcome_shown(api: Api, backend: str) -> None:
    dev = await capable(api)
    other = await capable(api, "dev-2")
    task_id = await finished_task(api, dev)
    task = await api.admin("POST", f"/tasks/{task_id}/push", 202, json={"remote": None, "pr": True, "title": "Fix it"})
    action = task["workspace_action"]
    assert action["kind"] == "push" and action["status"] == "pending" and action["pr"] is True
    assert action["requested_by"] == "admin"

    again = await api.admin("POST", f"/tasks/{task_id}/discard", 409, json={})
    assert "already pending" in again["detail"]
    fetched = (await api.agent(dev, "GET", "/workspace-actions"))["actions"]
    assert fetched == [{"id": action["id"], "task_id": task_id, "kind": "push", "target_repo": "",
                        "branch": WS["branch"], "base": "main", "remote": "origin", "pr": True, "title": "Fix it",
                        "force": False}]
    assert (await api.agent(other, "GET", "/workspace-actions"))["actions"] == []  # not another agent's
    await api.agent(other, "POST", f"/workspace-actions/{action['id']}", 404, json={"ok": True})
    bad = await api.agent(dev, "POST", f"/workspace-actions/{action['id']}", 422,
                          json={"ok": True, "pr_url": "javascript:alert(1)"})
    assert "pr_url" in bad["detail"]

    url = "https://github.com/acme/repo/pull/7"
    await api.agent(dev, "POST", f"/workspace-actions/{action['id']}",
                    json={"ok": True, "message": "pushed; opened " + url, "pr_url": url})
    shown = await api.admin("GET", f"/tasks/{task_id}")
    assert shown["pr_url"] == url
    assert shown["workspace_action"]["status"] == "done" and shown["workspace_action"]["message"].endswith(url)
    assert (await api.agent(dev, "GET", "/workspace-actions"))["actions"] == []
    # a retry of the report keeps the first outcome
    assert (await api.agent(dev, "POST", f"/workspace-actions/{action['id']}", json={"ok": False}))["status"] == "done"


async def test_a_failed_action_keeps_the_agents_message(api: Api) -> None:
    dev = await capable(api)
    task_id = await finished_task(api, dev)
    task = await api.admin("POST", f"/tasks/{task_id}/discard", 202, json={"force": False})
    message = "branch orchestratia/abcd1234-fix has 1 commit(s) that are on no remote; push it first"
    await api.agent(dev, "POST", f"/workspace-actions/{task['workspace_action']['id']}",
                    json={"ok": False, "message": message})
    shown = await api.admin("GET", f"/tasks/{task_id}")
    assert shown["workspace_action"]["status"] == "failed" and shown["workspace_action"]["message"] == message
    assert shown["pr_url"] is None
    # a failure is no lock: the admin may try again (with --force)
    retry = await api.admin("POST", f"/tasks/{task_id}/discard", 202, json={"force": True})
    assert retry["workspace_action"]["force"] is True


async def test_refusals_say_why(api: Api) -> None:
    dev = await capable(api)
    running = await api.running_task(dev)
    detail = (await api.admin("POST", f"/tasks/{running}/push", 409, json={}))["detail"]
    assert "running" in detail and "once it has ended" in detail
    bare = await finished_task(api, dev, workspace=None)
    assert "no workspace" in (await api.admin("POST", f"/tasks/{bare}/push", 409, json={}))["detail"]
    in_place = await finished_task(api, dev, {**WS, "kind": "in_place", "branch": "main"})
    assert "in place" in (await api.admin("POST", f"/tasks/{in_place}/push", 409, json={}))["detail"]
    assert (await api.admin("POST", "/tasks/nope/push", 404, json={}))["detail"]

    done = await finished_task(api, dev)
    task = await api.admin("POST", f"/tasks/{done}/discard", 202, json={})
    await api.agent(dev, "POST", f"/workspace-actions/{task['workspace_action']['id']}", json={"ok": True})
    assert "discarded already" in (await api.admin("POST", f"/tasks/{done}/push", 409, json={}))["detail"]


async def test_an_older_daemon_is_never_asked_and_the_admin_told_to_upgrade(api: Api, hub: Any) -> None:
    v1 = await api.online("old-1")  # registered, never reported features (a v1 or older daemon)
    task_id = await finished_task(api, v1)
    detail = (await api.admin("POST", f"/tasks/{task_id}/push", 409, json={}))["detail"]
    assert "old-1" in detail and "upgrade" in detail
    async with hub.store.read() as session:
        assert (await session.get(AgentRow, v1["id"])).features is None
    assert (await api.admin("GET", f"/tasks/{task_id}"))["workspace_action"] is None


async def test_the_request_is_pushed_on_the_agents_channel(api: Api, hub: Any) -> None:
    dev = await capable(api)
    task_id = await finished_task(api, dev)
    async with hub.bus.subscribe(agent_channel(dev["id"])) as sub:
        await api.admin("POST", f"/tasks/{task_id}/push", 202, json={"remote": "upstream"})
        message = await next_message(sub, type="workspace_action")
    assert message["action"]["task_id"] == task_id and message["action"]["remote"] == "upstream"


async def test_disk_use_from_heartbeats_is_shown_on_the_agent(api: Api) -> None:
    dev = await capable(api)
    disk = {"total_bytes": 3 * 1024 * 1024, "worktrees": 2, "measured_at": "2026-12-06T06:00:00+00:00"}
    await api.agent(dev, "POST", "/heartbeat", json={"system_info": {}, "workspace_disk": disk})
    await api.hub.liveness.flush_contacts()
    shown = await api.admin("GET", "/agents/dev-1")
    assert shown["workspace_disk"] == disk and shown["features"] == ["workspace_actions"]
