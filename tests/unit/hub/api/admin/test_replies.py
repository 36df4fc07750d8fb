"""Replies (``POST /api/admin/tasks/{id}/replies``): a follow-up task on the parent's agent that
carries what the daemon needs to resume the parent's conversation in its worktree; refused
while the thread still runs; the thread in order (``GET /tasks/{id}/thread``)."""

from __future__ import annotations

import pytest

from ...helpers import Api, age_agent, agent_and_running_task

SESSION = "4f6c1a52-8f7e-4b61-9d0a-2b6c0c1d9e11"
REPORT = {"kind": "worktree", "branch": "orchestratia/abc-fix", "base_ref": "main", "base_commit": "a" * 40,
          "head_commit": "b" * 40, "files_changed": 1, "insertions": 1, "deletions": 0, "committed": True,
          "files": [], "diff": "", "diff_truncated": False}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def finished_task(api: Api, session_id: str | None = SESSION, **fields: object) -> tuple[dict, dict]:
    agent, task = await agent_and_running_task(api)
    await api.agent(agent, "POST", f"/tasks/{task['id']}/workspace", json={**REPORT, **fields})
    result = {"exit_code": 0, "summary": "done", **({"session_id": session_id} if session_id else {})}
    await api.agent(agent, "POST", f"/tasks/{task['id']}/complete", json={"result": result})
    return agent, task


async def test_a_reply_continues_the_parents_conversation_and_worktree(api: Api) -> None:
    agent, parent = await finished_task(api)
    assert (await api.admin("GET", f"/tasks/{parent['id']}"))["session_id"] == SESSION
    reply = await api.admin("POST", f"/tasks/{parent['id']}/replies", 201, json={"message": "now add tests"})
    assert reply["parent_id"] == parent["id"] and reply["status"] == "assigned"
    assert (reply["agent"], reply["spec"], reply["title"]) == ("dev-1", "now add tests", "Re: t")
    polled = await api.agent(agent, "GET", "/tasks/poll")
    assert [t["id"] for t in polled] == [reply["id"]]
    assert polled[0]["resume"] == {"parent_id": parent["id"], "session_id": SESSION, "worktree_of": parent["id"],
                                   "branch": "orchestratia/abc-fix", "kind": "worktree", "message": None,
                                   "attempt": 0}
    assert polled[0]["workspace"] == "worktree" and polled[0]["branch"] is None  # not "--branch": a v1 run starts fresh

    # a reply to the reply: the same worktree (named after the thread's first task) and the
    # conversation the reply's run reported
    await api.agent(agent, "POST", f"/tasks/{reply['id']}/start", json={})
    await api.agent(agent, "POST", f"/tasks/{reply['id']}/workspace", json=REPORT)
    await api.agent(agent, "POST", f"/tasks/{reply['id']}/fail",
                    json={"error": "x", "result": {"session_id": "s-2"}})
    second = await api.admin("POST", f"/tasks/{reply['id']}/replies", 201, json={"message": "try again"})
    polled = await api.agent(agent, "GET", "/tasks/poll")
    assert polled[0]["resume"]["worktree_of"] == parent["id"] and polled[0]["resume"]["session_id"] == "s-2"
    assert second["title"] == "Re: t"

    thread = await api.admin("GET", f"/tasks/{reply['id']}/thread")
    assert [t["id"] for t in thread] == [parent["id"], reply["id"], second["id"]]
    assert [t["status"] for t in thread] == ["completed", "failed", "assigned"]


async def test_a_reply_while_the_thread_runs_is_refused(api: Api) -> None:
    agent, running = await agent_and_running_task(api)
    r = await api.admin("POST", f"/tasks/{running['id']}/replies", 409, json={"message": "more"})
    assert "is running" in r["detail"] and "wait" in r["detail"]
    await api.agent(agent, "POST", f"/tasks/{running['id']}/complete", json={"result": {}})
    first = await api.admin("POST", f"/tasks/{running['id']}/replies", 201, json={"message": "more"})
    r = await api.admin("POST", f"/tasks/{running['id']}/replies", 409, json={"message": "and more"})
    assert first["id"] in r["detail"] and "same worktree" in r["detail"]


async def test_bad_replies(api: Api) -> None:
    _, parent = await finished_task(api)
    for body in ({"message": ""}, {"message": "  \n"}, {}):
        r = await api.admin("POST", f"/tasks/{parent['id']}/replies", 422, json=body)
        assert "message" in r["detail"]
    await api.admin("POST", "/tasks/00000000-0000-4000-8000-000000000000/replies", 404, json={"message": "x"})
    await api.admin("POST", "/tasks/nope/replies", 404, json={"message": "x"})


async def test_a_reply_whose_agent_is_offline_waits_and_says_why(api: Api) -> None:
    agent, parent = await finished_task(api, session_id=None)
    await api.hub.liveness.flush_contacts()  # its last contacts written, then made an hour old
    await age_agent(api.hub, agent["id"], 3600)
    reply = await api.admin("POST", f"/tasks/{parent['id']}/replies", 201, json={"message": "go on"})
    assert reply["status"] == "assigned" and reply["queue_reason"] == "agent dev-1 offline"
    polled = await api.agent(agent, "GET", "/tasks/poll")
    assert polled[0]["resume"]["session_id"] is None  # nothing to resume: the CLI starts fresh there


async def test_a_hostile_session_id_is_not_kept(api: Api) -> None:
    _, parent = await finished_task(api, session_id="--dangerously-skip-permissions")
    assert (await api.admin("GET", f"/tasks/{parent['id']}"))["session_id"] is None


async def test_a_reply_to_a_revoked_agents_task_is_refused(api: Api) -> None:
    agent, parent = await finished_task(api)
    await api.admin("POST", f"/agents/{agent['id']}/revoke")
    r = await api.admin("POST", f"/tasks/{parent['id']}/replies", 409, json={"message": "x"})
    assert "revoked" in r["detail"] and "new task" in r["detail"]
