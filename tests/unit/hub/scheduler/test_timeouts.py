"""Running tasks past their timeout end timed_out (scheduler/timeouts.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestratia.hub.store.models import utcnow

from ..helpers import Api, next_message


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_timeout_ends_timed_out(api: Api, hub) -> None:
    agent = await api.register("dev-1")
    task = await api.task(agent="dev-1", timeout_minutes=1)
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    async with hub.bus.subscribe(f"agent:{agent['id']}") as sub:
        await hub.scheduler.tick(now=utcnow() + timedelta(seconds=30))
        assert await api.status(task["id"]) == "running"
        await hub.scheduler.tick(now=utcnow() + timedelta(seconds=61))
        shown = await api.admin("GET", f"/tasks/{task['id']}")
        assert shown["status"] == "timed_out" and "timed out" in shown["error"]
        message = await next_message(sub, type="task_cancel")
        assert message == {"type": "task_cancel", "task_id": task["id"], "reason": "timed out after 1 minutes"}
    r = await api.client.post(
        f"/api/v1/agents/tasks/{task['id']}/fail", json={"error": "killed"}, headers=agent["headers"]
    )
    assert r.status_code == 409 and "timed_out" in r.json()["detail"]


async def test_fractional_timeout_minutes_end_to_end(api: Api, hub) -> None:
    """0.05 minutes (3 s) is accepted, stored, sent in poll and enforced; whole minutes still go
    over the wire as JSON integers (v1 daemons expect ints)."""
    import json

    agent = await api.register("dev-1")
    short = await api.task(agent="dev-1", timeout_minutes=0.05, title="short")
    whole = await api.task(agent="dev-1", timeout_minutes=30.0, title="whole")
    assert short["timeout_minutes"] == 0.05
    shown = await api.client.get(f"/api/admin/tasks/{whole['id']}", headers=api.headers)
    assert '"timeout_minutes":30,' in shown.text.replace(" ", "")
    polled = await api.client.get("/api/v1/agents/tasks/poll", headers=agent["headers"])
    minutes = {t["title"]: t["timeout_minutes"] for t in json.loads(polled.text)}
    assert minutes == {"short": 0.05, "whole": 30} and type(minutes["whole"]) is int
    assert '"timeout_minutes":30,' in polled.text.replace(" ", "")
    await api.agent(agent, "POST", f"/tasks/{short['id']}/start", json={})
    await hub.scheduler.tick(now=utcnow() + timedelta(seconds=1))
    assert await api.status(short["id"]) == "running"
    await hub.scheduler.tick(now=utcnow() + timedelta(seconds=4))
    ended = await api.admin("GET", f"/tasks/{short['id']}")
    assert ended["status"] == "timed_out" and ended["error"] == "timed out after 0.05 minutes"


async def test_timeout_minutes_must_be_a_positive_number(api: Api) -> None:
    for bad in (0, -1, 0.0, 7 * 24 * 60 + 1, "soon"):
        r = await api.client.post("/api/admin/tasks", json={"title": "t", "spec": "s", "timeout_minutes": bad},
                                  headers=api.headers)
        assert r.status_code == 422 and "timeout_minutes" in r.text, (bad, r.text)
