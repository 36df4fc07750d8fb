"""Usage limits park, then resume (scheduler/parking.py) through the real hub: our daemon's
``fail`` with ``reason: usage_limit`` parks a running task until ``resets_at``; meanwhile that
agent gets no task of that runner (others do, and it gets other runners'); at the reset the
task goes back to its agent with ``resume``; a parked task can be cancelled; a v1 ``fail``
never parks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestratia.hub.store.models import utcnow

from ..helpers import Api

SESSION = "4f6c1a52-8f7e-4b61-9d0a-2b6c0c1d9e11"
REPORT = {"kind": "worktree", "branch": "orchestratia/abc-job", "base_ref": "main", "base_commit": "a" * 40,
          "head_commit": "b" * 40, "files_changed": 0, "insertions": 0, "deletions": 0, "committed": False,
          "files": [], "diff": "", "diff_truncated": False}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def parked_task(api: Api, agent: dict, minutes: float = 60, **task: object) -> dict:
    made = await api.task(agent=agent["name"], runner="claude", **task)
    await api.agent(agent, "POST", f"/tasks/{made['id']}/start", json={})
    await api.agent(agent, "POST", f"/tasks/{made['id']}/workspace", json=REPORT)
    resets = (utcnow() + timedelta(minutes=minutes)).isoformat()
    answer = await api.agent(agent, "POST", f"/tasks/{made['id']}/fail", json={
        "error": "claude exited with status 1: You've hit your limit", "exit_code": 1, "reason": "usage_limit",
        "resets_at": resets, "result": {"session_id": SESSION, "exit_code": 1}})
    assert answer["status"] == "parked"
    return await api.admin("GET", f"/tasks/{made['id']}")


async def test_park_then_resume_at_the_reset(api: Api, hub) -> None:
    agent = await api.online("dev-1", runners=["claude", "shell"])
    task = await parked_task(api, agent)
    assert (task["status"], task["failure_cause"], task["session_id"]) == ("parked", "usage_limit", SESSION)
    assert task["parked_until"] is not None and task["finished_at"] is None
    assert task["queue_reason"].startswith("parked until ") and task["queue_reason"].endswith(" UTC (usage limit)")
    assert await api.agent(agent, "GET", "/tasks/poll") == []  # never offered while parked
    assert [t["id"] for t in await api.admin("GET", "/tasks?status=parked")] == [task["id"]]

    await hub.scheduler.tick(now=utcnow() + timedelta(minutes=61))
    resumed = await api.admin("GET", f"/tasks/{task['id']}")
    assert (resumed["status"], resumed["parked_until"], resumed["failure_cause"]) == ("assigned", None, None)
    polled = await api.agent(agent, "GET", "/tasks/poll")
    assert [t["id"] for t in polled] == [task["id"]] and polled[0]["status"] == "assigned"
    assert polled[0]["resume"] == {"parent_id": task["id"], "session_id": SESSION, "worktree_of": task["id"],
                                   "branch": "orchestratia/abc-job", "kind": "worktree", "attempt": 1,
                                   "message": polled[0]["resume"]["message"]}
    assert polled[0]["resume"]["message"].startswith("The usage limit has reset")
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    await api.agent(agent, "POST", f"/tasks/{task['id']}/complete", json={"result": {"session_id": SESSION}})
    assert await api.status(task["id"]) == "completed"


async def test_a_parked_runner_waits_on_its_agent_only(api: Api, hub) -> None:
    one = await api.online("dev-1", runners=["claude", "shell"])
    await parked_task(api, one)
    mine = await api.task(agent="dev-1", runner="claude", title="mine")
    assert "runner claude parked until" in mine["queue_reason"]
    other_runner = await api.task(agent="dev-1", runner="shell", title="shell")
    assert [t["id"] for t in await api.agent(one, "GET", "/tasks/poll")] == [other_runner["id"]]
    queued = await api.task(runner="claude", title="anyone")
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{queued['id']}"))["status"] == "queued"  # not to dev-1
    two = await api.online("dev-2", runners=["claude"])
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{queued['id']}"))["agent"] == two["name"]


async def test_cancel_a_parked_task_and_a_v1_fail_never_parks(api: Api) -> None:
    agent = await api.online("dev-1", runners=["claude"])
    task = await parked_task(api, agent)
    cancelled = await api.admin("POST", f"/tasks/{task['id']}/cancel", json={"reason": "not today"})
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"] is not None
    await api.admin("POST", f"/tasks/{task['id']}/cancel", 409, json={})
    # a v1 daemon's fail (no reason): failed, as ever
    plain = await api.task(agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{plain['id']}/start", json={})
    await api.agent(agent, "POST", f"/tasks/{plain['id']}/fail", json={"error": "You've hit your limit"})
    assert await api.status(plain["id"]) == "failed"
    # a usage limit on a task that is not running (a late report) is an ordinary fail
    late = await api.task(agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{late['id']}/fail", json={"error": "limit", "reason": "usage_limit"})
    assert await api.status(late["id"]) == "failed"
