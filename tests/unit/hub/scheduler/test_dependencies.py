"""Dependencies through the admin and agent APIs: ``after`` waits, releases, cancels down the
chain; pipelines stored from a file, their results passed down, cancelled as a whole."""

from __future__ import annotations

import pytest

from ..helpers import Api

PIPELINE = """
name: release
tasks:
  build:
    spec: build it
  lint:
    needs: build
    spec: "lint {{ needs.build.result }}"
  test:
    needs: [build]
    spec: "test {{needs.build.result}} again: {{ needs.build.result }}"
  package:
    needs: [lint, test]
    spec: "package after {{ needs.test.result }}"
  publish:
    needs: [package]
    agent: dev-1
    spec: publish
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def _run(api: Api, agent: dict, task_id: str, *, summary: str = "", fail: bool = False) -> None:
    await api.hub.scheduler.tick()
    shown = await api.admin("GET", f"/tasks/{task_id}")
    assert (shown["status"], shown["agent"]) == ("assigned", agent["name"]), shown
    await api.agent(agent, "POST", f"/tasks/{task_id}/start", json={})
    if fail:
        await api.agent(agent, "POST", f"/tasks/{task_id}/fail", json={"error": "boom"})
    else:
        await api.agent(agent, "POST", f"/tasks/{task_id}/complete", json={"result": {"summary": summary}})
    await api.hub.scheduler.tick()


async def test_after_waits_for_its_parent_then_runs(api: Api, hub) -> None:
    agent = await api.online("dev-1")
    parent = await api.task(title="parent")
    child = await api.task(title="child", after=[parent["id"]], spec="spec {{ needs.x.result }} kept")
    assert child["status"] == "queued" and child["depends_on"] == [parent["id"]]
    await hub.scheduler.tick()
    shown = await api.admin("GET", f"/tasks/{child['id']}")
    assert shown["status"] == "queued"
    assert shown["queue_reason"] == f"waiting for task {parent['id'][:8]} (assigned)"
    await api.agent(agent, "POST", f"/tasks/{parent['id']}/start", json={})
    assert (await api.admin("GET", f"/tasks/{child['id']}"))["queue_reason"] == \
        f"waiting for task {parent['id'][:8]} (running)"
    await api.agent(agent, "POST", f"/tasks/{parent['id']}/complete", json={"result": {"summary": "ok"}})
    await hub.scheduler.tick()
    shown = await api.admin("GET", f"/tasks/{child['id']}")
    assert shown["status"] == "assigned" and shown["agent"] == "dev-1"
    assert shown["spec"] == "spec {{ needs.x.result }} kept"  # no pipeline: nothing to fill in


async def test_a_failed_parent_cancels_children_and_grandchildren(api: Api, hub) -> None:
    agent = await api.online("dev-1")
    parent = await api.task(title="parent")
    child = await api.task(title="child", after=[parent["id"]])
    grandchild = await api.task(title="grandchild", after=[child["id"]])
    await _run(api, agent, parent["id"], fail=True)
    for task in (child, grandchild):
        shown = await api.admin("GET", f"/tasks/{task['id']}")
        assert (shown["status"], shown["failure_cause"]) == ("cancelled", "dependency_failed")
        assert shown["queue_reason"] is None
    assert (await api.admin("GET", f"/tasks/{child['id']}"))["cancel_reason"] == \
        f"dependency {parent['id'][:8]} (parent) failed"
    assert (await api.admin("GET", f"/tasks/{grandchild['id']}"))["cancel_reason"] == \
        f"dependency {child['id'][:8]} (child) cancelled"


async def test_a_task_for_an_agent_waits_queued_then_is_assigned_to_it(api: Api, hub) -> None:
    agent = await api.online("dev-1")
    parent = await api.task(title="parent", agent="dev-1")
    child = await api.task(title="child", agent="dev-1", after=[parent["id"]])
    assert child["status"] == "queued"
    polled = await api.agent(agent, "GET", "/tasks/poll")
    assert [t["id"] for t in polled] == [parent["id"]]  # a v1 daemon sees only what may run
    await _run(api, agent, parent["id"])
    assert await api.status(child["id"]) == "assigned"


async def test_a_waiting_task_of_a_revoked_agent_goes_to_another_once_released(api: Api, hub) -> None:
    agent = await api.online("dev-1")
    other = await api.online("dev-2")
    parent = await api.task(title="parent", agent="dev-2")
    child = await api.task(title="child", agent="dev-1", after=[parent["id"]])
    await api.admin("POST", f"/agents/{agent['id']}/revoke")
    await _run(api, other, parent["id"])
    shown = await api.admin("GET", f"/tasks/{child['id']}")
    assert (shown["status"], shown["agent"]) == ("assigned", "dev-2"), shown  # never handed to the revoked agent


async def test_after_refuses_unknown_and_failed_parents(api: Api, hub) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    err = await api.admin("POST", "/tasks", 404, json={"title": "t", "spec": "s", "after": [missing]})
    assert "after: task" in err["detail"] and missing in err["detail"]
    parent = await api.task()
    await api.admin("POST", f"/tasks/{parent['id']}/cancel")
    err = await api.admin("POST", "/tasks", 409, json={"title": "t", "spec": "s", "after": [parent["id"]]})
    assert "is cancelled: a task after it would never run" in err["detail"]
    assert len(await api.admin("GET", "/tasks")) == 1  # nothing stored


async def test_pipeline_passes_results_down_a_diamond(api: Api, hub) -> None:
    agent = await api.online("dev-1")
    made = await api.admin("POST", "/pipelines", 201, json={"yaml": PIPELINE})
    nodes = {n["name"]: n for n in made["nodes"]}
    assert {n: v["depth"] for n, v in nodes.items()} == {"build": 0, "lint": 1, "test": 1, "package": 2, "publish": 3}
    assert nodes["package"]["needs"] == ["lint", "test"] and made["status"] == "queued"
    task = await api.admin("GET", f"/tasks/{nodes['lint']['task_id']}")
    assert (task["pipeline_id"], task["pipeline_node"]) == (made["id"], "lint")
    await _run(api, agent, nodes["build"]["task_id"], summary="BUILD-7 {{ needs.lint.result }}")
    lint = await api.admin("GET", f"/tasks/{nodes['lint']['task_id']}")
    assert lint["spec"] == "lint BUILD-7 {{ needs.lint.result }}"  # inserted once, never expanded again
    test = await api.admin("GET", f"/tasks/{nodes['test']['task_id']}")
    assert test["spec"] == "test BUILD-7 {{ needs.lint.result }} again: BUILD-7 {{ needs.lint.result }}"
    await _run(api, agent, nodes["lint"]["task_id"], summary="lint ok")
    assert await api.status(nodes["package"]["task_id"]) == "queued"
    await _run(api, agent, nodes["test"]["task_id"], summary="tests ok")
    assert (await api.admin("GET", f"/tasks/{nodes['package']['task_id']}"))["spec"] == "package after tests ok"
    await _run(api, agent, nodes["package"]["task_id"])
    await _run(api, agent, nodes["publish"]["task_id"])
    assert (await api.admin("GET", f"/pipelines/{made['id']}"))["status"] == "completed"


async def test_pipeline_cancel_cancels_what_has_not_ended(api: Api, hub) -> None:
    agent = await api.online("dev-1")
    made = await api.admin("POST", "/pipelines", 201, json={"yaml": PIPELINE})
    nodes = {n["name"]: n["task_id"] for n in made["nodes"]}
    await _run(api, agent, nodes["build"])
    await hub.scheduler.tick()
    await api.agent(agent, "POST", f"/tasks/{nodes['lint']}/start", json={})
    cancelled = await api.admin("POST", f"/pipelines/{made['id']}/cancel", json={"reason": "wrong branch"})
    statuses = {n["name"]: (n["status"], n["cancel_reason"]) for n in cancelled["nodes"]}
    assert statuses["build"] == ("completed", None)
    assert all(statuses[n] == ("cancelled", "wrong branch") for n in ("lint", "test", "package", "publish"))
    assert cancelled["status"] == "cancelled"
    err = await api.admin("POST", f"/pipelines/{made['id']}/cancel", 409)
    assert "already cancelled" in err["detail"]
    listed = await api.admin("GET", "/pipelines")
    assert [(p["id"], p["counts"]) for p in listed] == [(made["id"], {"completed": 1, "cancelled": 4})]


@pytest.mark.parametrize(("body", "message"), [
    ({"yaml": "tasks:\n  a: {spec: x}\n  a: {spec: y}\n"}, "duplicate task name 'a' at lines 2 and 3"),
    ({"yaml": "tasks:\n  a: {spec: x, needs: [b]}\n"}, "task 'a' (line 2) needs 'b', which is no task"),
    ({"yaml": "tasks:\n  a: {spec: x, needs: b}\n  b: {spec: y, needs: a}\n"}, "cycle: a -> b -> a"),
    ({"name": "p", "tasks": [{"name": "a", "spec": "x"}, {"name": "a", "spec": "y"}]}, "duplicate task name 'a'"),
    ({"yaml": "tasks:\n  a: {spec: x}\n", "tasks": []}, "either yaml"),
    ({"yaml": "tasks:\n  a: {spec: x, agent: nobody}\n"}, "task 'a': agent 'nobody' not found"),
])
async def test_bad_pipelines_store_nothing(api: Api, body: dict, message: str) -> None:
    expect = 404 if "nobody" in str(body) else 422
    err = await api.admin("POST", "/pipelines", expect, json=body)
    assert message in str(err["detail"]), err
    assert await api.admin("GET", "/pipelines") == [] and await api.admin("GET", "/tasks") == []


async def test_a_pipeline_task_for_an_agent_without_its_labels_stores_nothing(api: Api, hub) -> None:
    await api.online("dev-1")
    err = await api.admin("POST", "/pipelines", 422, json={"yaml": "tasks:\n  a: {spec: x}\n"
                                                             "  b: {spec: y, agent: dev-1, labels: [gpu]}\n"})
    assert err["detail"].startswith("pipeline not created: task 'b': agent 'dev-1' has no label gpu"), err
    assert await api.admin("GET", "/pipelines") == [] and await api.admin("GET", "/tasks") == []


async def test_a_pipeline_task_takes_labels_priority_group_and_retries(api: Api, hub) -> None:
    made = await api.admin("POST", "/pipelines", 201, json={"yaml": """
tasks:
  gpu-build:
    spec: build
    labels: [gpu]
    priority: high
    group: claude-team
    retry: 2
    retry_on: [runner_failed]
    max_cost_usd: 1.5
"""})
    task = await api.admin("GET", f"/tasks/{made['nodes'][0]['task_id']}")
    assert (task["labels"], task["priority"], task["group"]) == (["gpu"], "high", "claude-team")
    assert (task["retry"], task["retry_on"], task["max_cost_usd"]) == (2, ["runner_failed"], 1.5)
    assert task["queue_reason"].startswith("no agent is registered")
