"""Admin API: interventions (first answer wins)."""

from __future__ import annotations

import asyncio

import pytest

from ...helpers import ADMIN, Api, agent_and_running_task


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_interventions_list_and_first_answer_wins(api: Api) -> None:
    agent = await api.register("dev-1")
    task = await api.task(title="needs help", agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    one = await api.agent(agent, "POST", f"/tasks/{task['id']}/help", 201, json={"question": "one"})
    two = await api.agent(agent, "POST", f"/tasks/{task['id']}/help", 201, json={"question": "two"})
    await api.admin("POST", f"/interventions/{one['id']}/answer", json={"response": "first"})
    listed = await api.admin("GET", "/interventions")
    assert [i["id"] for i in listed] == [two["id"], one["id"]]  # pending first
    item = listed[1]
    assert item["task_title"] == "needs help" and item["agent"] == "dev-1" and item["answered_by"] == "admin"
    assert [i["id"] for i in await api.admin("GET", "/interventions?status=pending")] == [two["id"]]
    results = await asyncio.gather(
        *(api.client.post(f"{ADMIN}/interventions/{two['id']}/answer", json={"response": f"r{i}"}, headers=api.headers)
          for i in range(5))
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409, 409]
    assert "first answer wins" in next(r.json()["detail"] for r in results if r.status_code == 409)
    await api.admin("POST", "/interventions/00000000-0000-0000-0000-000000000000/answer", 404, json={"response": "x"})


async def test_first_answer_wins_under_concurrency(api: Api) -> None:
    agent, task = await agent_and_running_task(api)
    ask = await api.agent(agent, "POST", f"/tasks/{task['id']}/help", 201, json={"question": "q"})
    answers = await asyncio.gather(
        *(
            api.client.post(f"/api/admin/interventions/{ask['id']}/answer", json={"response": f"r{i}"}, headers=api.headers)
            for i in range(8)
        )
    )
    assert sorted(r.status_code for r in answers) == [200] + [409] * 7
    winner = next(r.json()["response"] for r in answers if r.status_code == 200)
    got = await api.agent(agent, "GET", f"/interventions/{ask['id']}")
    assert got["response"] == winner
