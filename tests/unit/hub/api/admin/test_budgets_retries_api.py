"""The hub's side of retries and budgets through its real API (in process, SQLite and
PostgreSQL): a v1 daemon's fail report gets its cause inferred and the run rerun per the task's
policy, each run listed as an attempt with its cost; budgets and costs are checked and summed;
the Costs page shows them (agent text inert)."""

from __future__ import annotations

from ...helpers import Api


async def _started(api: Api, agent: dict, **fields) -> str:
    task = await api.task(agent=agent["name"], **fields)
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    return task["id"]


async def test_a_v1_fail_is_rerun_per_the_policy_and_each_run_is_an_attempt(api: Api) -> None:
    agent = await api.online("dev-1")
    task_id = await _started(api, agent, retry=1)
    await api.agent(agent, "POST", f"/tasks/{task_id}/fail", json={"error": "boom", "exit_code": 2,
                                                                      "result": {"cost_usd": 0.5}})
    waiting = await api.admin("GET", f"/tasks/{task_id}")
    assert (waiting["status"], waiting["failure_cause"], waiting["cost_usd"]) == ("queued", "runner_failed", 0.5)
    assert waiting["retry_at"] is not None and waiting["queue_reason"] == "retry 1/1 after 15 s (runner_failed)"
    [first] = waiting["attempts"]
    assert (first["number"], first["agent"], first["status"], first["exit_code"]) == (1, "dev-1", "failed", 2)
    # the hub's attempt line is in the output; the rerun's own bytes will follow it
    output = (await api.admin("GET", f"/tasks/{task_id}/output")).content
    assert output.startswith(b"\n\xe2\x94\x80\xe2\x94\x80 attempt 1 failed (runner_failed); attempt 2: retry 1/1")
    # while the rerun waits, the old run's agent has nothing to report on: 404 (not its task now)
    await api.agent(agent, "POST", f"/tasks/{task_id}/complete", 404, json={"result": {}})


async def test_a_v1_fail_before_the_start_is_launch_failed_and_not_rerun_by_default(api: Api) -> None:
    agent = await api.online("dev-1")
    task = await api.task(agent="dev-1", retry=3)
    await api.agent(agent, "POST", f"/tasks/{task['id']}/fail", json={"error": "no such runner"})
    shown = await api.admin("GET", f"/tasks/{task['id']}")
    assert (shown["status"], shown["failure_cause"], len(shown["attempts"])) == ("failed", "launch_failed", 1)


async def test_retry_on_and_max_cost_are_checked(api: Api) -> None:
    bad = await api.admin("POST", "/tasks", 422, json={"title": "t", "spec": "s", "retry": 1, "retry_on": ["cancelled"]})
    assert "a cancel is never retried" in bad["detail"]
    await api.admin("POST", "/tasks", 422, json={"title": "t", "spec": "s", "max_cost_usd": -1})
    await api.admin("POST", "/tasks", 422, json={"title": "t", "spec": "s", "retry": 99})


async def test_budgets_and_costs(api: Api) -> None:
    agent = await api.online("dev-<b>1</b>")
    for cost in (0.25, 0.5):
        task_id = await _started(api, agent)
        await api.agent(agent, "POST", f"/tasks/{task_id}/complete",
                        json={"result": {"cost_usd": cost, "usage": {"input_tokens": 10, "output_tokens": 4}}})
    assert "daily_usd" in (await api.admin("PUT", "/budgets", 422, json={"daily_usd": 0}))["detail"]
    budget = await api.admin("PUT", "/budgets", json={"daily_usd": 0.7})
    assert budget == {"label": "", "daily_usd": 0.7, "spent_today_usd": 0.75, "reached": True}
    held = await api.task()
    assert (await api.admin("GET", f"/tasks/{held['id']}"))["queue_reason"] == "budget reached ($0.70 today)"
    named = await api.task(agent=agent["name"])  # created for an agent: it waits too, then goes to it
    assert (named["status"], named["queue_reason"]) == ("queued", "budget reached ($0.70 today)")
    made = await api.admin("POST", "/pipelines", 201, json={"yaml": f"tasks:\n  a: {{spec: x, agent: '{agent['name']}'}}\n"})
    member = await api.admin("GET", f"/tasks/{made['nodes'][0]['task_id']}")  # a pipeline's task waits as well
    assert (member["status"], member["queue_reason"]) == ("queued", "budget reached ($0.70 today)")
    costs = await api.admin("GET", "/costs", params={"days": 1})
    assert costs["total_usd"] == 0.75 and costs["by_agent"] == [
        {"key": "dev-<b>1</b>", "cost_usd": 0.75, "input_tokens": 20, "output_tokens": 8, "runs": 2}]
    api.client.cookies.set("orc_session", api.headers["Authorization"].split()[1])
    try:
        page = await api.client.get("/costs?days=1")
    finally:
        api.client.cookies.clear()
    assert page.status_code == 200 and "dev-&lt;b&gt;1&lt;/b&gt;" in page.text and "<b>1</b>" not in page.text
    assert "reached: new tasks wait" in page.text
    await api.admin("DELETE", "/budgets", 204)
    await api.admin("DELETE", "/budgets", 404)
    await api.hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{named['id']}"))["agent"] == agent["name"]
    # the budget no longer holds it: it waits for room on its agent (the other two took it)
    assert (await api.admin("GET", f"/tasks/{member['id']}"))["queue_reason"] == f"agent {agent['name']} at capacity (2/2)"
    assert (await api.admin("GET", f"/tasks/{held['id']}"))["queue_reason"] != "budget reached ($0.70 today)"
