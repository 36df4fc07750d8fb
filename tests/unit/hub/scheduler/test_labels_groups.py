"""Labels, priority and concurrency groups through the real hub API (scheduler in process)."""

from __future__ import annotations

import pytest

from ..helpers import Api


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_labels_route_to_the_agent_that_has_them(api: Api, hub) -> None:
    await api.online("cpu-1", labels=[])
    await api.online("gpu-1", labels=["gpu", "zone=eu"])  # a v1 registration's labels count
    task = await api.task(labels=["gpu"])
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{task['id']}"))["agent"] == "gpu-1"
    shown = await api.admin("GET", f"/tasks/{task['id']}")
    assert shown["labels"] == ["gpu"] and shown["priority"] == "normal"


async def test_automatic_runner_os_and_repo_labels(api: Api, hub) -> None:
    await api.online("plain", runners=["claude"])
    await api.online("shelly", runners=["claude", "shell"], repos={"web": "/srv/web"})
    agents = {a["name"]: a for a in await api.admin("GET", "/agents")}
    assert {"runner:shell", "runner:claude", "repo:web", "os:linux"} <= set(agents["shelly"]["auto_labels"])
    for labels in (["runner:shell"], ["repo:web", "os:linux"]):
        task = await api.task(labels=labels)
        await hub.scheduler.tick()
        assert (await api.admin("GET", f"/tasks/{task['id']}"))["agent"] == "shelly", labels


async def test_no_agent_with_the_labels_waits_with_a_reason_and_a_warning(api: Api, hub) -> None:
    await api.online("cpu-1", repos={"web": "/srv/web"})
    task = await api.task(labels=["gpu", "cuda"])
    assert task["status"] == "queued"
    assert task["queue_reason"] == "no agent has labels gpu,cuda"
    assert task["warning"] == "no registered agent can take this task yet: no agent has labels gpu,cuda"
    await api.online("gpu-1", labels=["gpu", "cuda"])  # has the labels, not the repo
    other = await api.task(labels=["gpu"], target_repo="web")
    assert other["queue_reason"] == "no agent with repo web has labels gpu"
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{task['id']}"))["agent"] == "gpu-1"


async def test_bad_labels_and_an_agent_without_them_are_refused(api: Api) -> None:
    r = await api.admin("POST", "/tasks", 422, json={"title": "t", "spec": "s", "labels": ["has space"]})
    assert "'has space' is not a label" in r["detail"] and "labels.0" in r["detail"]
    r = await api.admin("POST", "/tasks", 422, json={"title": "t", "spec": "s", "priority": "urgent"})
    assert "priority" in r["detail"]
    r = await api.admin("POST", "/tasks", 422, json={"title": "t", "spec": "s", "group": "-x"})
    assert "is not a label" in r["detail"]
    await api.online("cpu-1")
    r = await api.admin("POST", "/tasks", 422, json={"title": "t", "spec": "s", "agent": "cpu-1", "labels": ["gpu"]})
    assert r["detail"].startswith("agent 'cpu-1' has no label gpu: drop --agent")


async def test_priority_order_on_a_busy_agent(api: Api, hub) -> None:
    agent = await api.online("solo", max_concurrent_tasks=1)
    first = await api.running_task(agent)
    low = await api.task(priority="low")
    normal = await api.task()
    high = await api.task(priority="high")
    await hub.scheduler.tick()
    assert [await api.status(t["id"]) for t in (low, normal, high)] == ["queued"] * 3
    for expected in (high, normal, low):
        await api.agent(agent, "POST", f"/tasks/{first}/complete", json={"result": {}})
        await hub.scheduler.tick()
        assert await api.status(expected["id"]) == "assigned", expected["priority"]
        await api.agent(agent, "POST", f"/tasks/{expected['id']}/start", json={})
        first = expected["id"]


async def test_assigned_tasks_are_offered_high_priority_first(api: Api) -> None:
    agent = await api.online("solo", max_concurrent_tasks=1)
    low = await api.task(agent="solo", priority="low")
    high = await api.task(agent="solo", priority="high")
    polled = await api.agent(agent, "GET", "/tasks/poll")
    assert [t["id"] for t in polled] == [high["id"]]  # the older low one waits
    assert low["status"] == "assigned"


async def test_group_limit_across_agents(api: Api, hub) -> None:
    group = await api.admin("PUT", "/groups/claude-team", json={"max_active": 1})
    assert (group["name"], group["max_active"], group["active"]) == ("claude-team", 1, 0)
    agents = {name: await api.online(name) for name in ("web-1", "web-2")}
    one = await api.task(group="claude-team")
    two = await api.task(group="claude-team")
    free = await api.task()  # not in the group: not held back
    await hub.scheduler.tick()
    statuses = [await api.status(t["id"]) for t in (one, two, free)]
    assert statuses == ["assigned", "queued", "assigned"]
    shown = await api.admin("GET", f"/tasks/{two['id']}")
    assert shown["queue_reason"] == "group claude-team at its limit (1/1)" and shown["group"] == "claude-team"
    listed = {g["name"]: g for g in await api.admin("GET", "/groups")}
    assert (listed["claude-team"]["active"], listed["claude-team"]["queued"]) == (1, 1)
    owner = agents[(await api.admin("GET", f"/tasks/{one['id']}"))["agent"]]
    await api.agent(owner, "POST", f"/tasks/{one['id']}/start", json={})
    await api.agent(owner, "POST", f"/tasks/{one['id']}/complete", json={"result": {}})
    await hub.scheduler.tick()
    assert await api.status(two["id"]) == "assigned"


async def test_raising_and_deleting_a_group_limit_lets_tasks_go(api: Api, hub) -> None:
    await api.admin("PUT", "/groups/g", json={"max_active": 1})
    await api.online("web-1", max_concurrent_tasks=4)
    tasks = [await api.task(group="g") for _ in range(3)]
    await hub.scheduler.tick()
    assert sorted([await api.status(t["id"]) for t in tasks]) == ["assigned", "queued", "queued"]
    await api.admin("PUT", "/groups/g", json={"max_active": 2})
    await hub.scheduler.tick()
    assert sorted([await api.status(t["id"]) for t in tasks]) == ["assigned", "assigned", "queued"]
    await api.admin("DELETE", "/groups/g", 204)
    await hub.scheduler.tick()
    assert [await api.status(t["id"]) for t in tasks] == ["assigned"] * 3
    r = await api.admin("DELETE", "/groups/g", 404)
    assert "has no limit set" in r["detail"]
    r = await api.admin("PUT", "/groups/g", 422, json={"max_active": 0})
    r = await api.admin("PUT", "/groups/bad%20name", 422, json={"max_active": 1})
    assert "is not a group name" in r["detail"]


async def test_a_task_for_an_agent_in_a_full_group_waits_for_the_group(api: Api, hub) -> None:
    await api.admin("PUT", "/groups/g", json={"max_active": 1})
    agent = await api.online("web-1", max_concurrent_tasks=3)
    first = await api.task(agent="web-1", group="g")
    second = await api.task(agent="web-1", group="g")
    await hub.scheduler.tick()
    assert [await api.status(t["id"]) for t in (first, second)] == ["assigned", "queued"]
    shown = await api.admin("GET", f"/tasks/{second['id']}")
    assert shown["queue_reason"] == "group g at its limit (1/1)"
    await api.online("web-2")  # free, but the task is for web-1
    await api.agent(agent, "POST", f"/tasks/{first['id']}/start", json={})
    await api.agent(agent, "POST", f"/tasks/{first['id']}/complete", json={"result": {}})
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{second['id']}"))["agent"] == "web-1"


async def test_a_task_behind_a_long_queue_that_fits_nowhere_is_assigned(api: Api, hub) -> None:
    """Past the first page of the queue (1,000 rows): 1,500 high-priority tasks no agent can take
    never hold back a low one that fits."""
    from sqlalchemy import insert

    from orchestratia.hub.store.models import Task, new_id, utcnow

    now = utcnow()
    async with hub.store.write() as session:
        await session.execute(insert(Task), [
            {"id": new_id(), "title": "t", "spec": "s", "status": "queued", "target_repo": "", "labels": ["tpu"],
             "priority": 1, "waiting_for_human": False, "output_size": 0, "created_at": now} for _ in range(1500)])
    await api.online("cpu-1")
    last = await api.task(priority="low")
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{last['id']}"))["agent"] == "cpu-1"
