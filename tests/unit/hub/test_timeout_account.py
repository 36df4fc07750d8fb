"""A task the hub's own timeout ended: the daemon's report (``fail`` with ``reason: timeout``)
still tells how the runner ended (its exit status and the CLI's last line), once."""

from __future__ import annotations

from datetime import timedelta

from orchestratia.hub.store.models import utcnow

from .helpers import Api


async def test_the_agents_first_timeout_report_fills_in_a_hub_timed_out_task(api: Api, hub) -> None:
    agent = await api.register("dev-1")
    task = await api.task(agent="dev-1", timeout_minutes=1)
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    await hub.scheduler.tick(now=utcnow() + timedelta(seconds=61))
    shown = await api.admin("GET", f"/tasks/{task['id']}")
    assert (shown["status"], shown["error"], shown["exit_code"]) == ("timed_out", "timed out after 1 minutes", None)
    body = {"error": "timed out after 1 minutes; the runner was stopped (exit status 130); codex said: "
                     "Reconnecting... waiting for network", "exit_code": 130, "reason": "timeout",
            "result": {"exit_code": 130, "summary": "..."}}
    await api.agent(agent, "POST", f"/tasks/{task['id']}/fail", json=body)
    shown = await api.admin("GET", f"/tasks/{task['id']}")
    assert (shown["status"], shown["error"], shown["exit_code"]) == ("timed_out", body["error"], 130)
    retry = {**body, "error": "something else", "exit_code": 137}
    await api.agent(agent, "POST", f"/tasks/{task['id']}/fail", json=retry)  # 200, changes nothing
    shown = await api.admin("GET", f"/tasks/{task['id']}")
    assert (shown["error"], shown["exit_code"]) == (body["error"], 130)
    # without the reason it stays an ordinary fail of a finished task
    await api.agent(agent, "POST", f"/tasks/{task['id']}/fail", 409, json={"error": "killed", "exit_code": 1})
