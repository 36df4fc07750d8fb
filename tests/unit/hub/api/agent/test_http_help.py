"""Help request extensions on BOTH SQLite and PostgreSQL: the ``request_id`` idempotency key of
``POST /tasks/{id}/help`` and ``POST /interventions/{id}/withdraw`` (docs/human-in-the-loop.md).
Old clients (no request_id, never withdraw) must see exactly what they saw before."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from orchestratia.hub.store.models import Intervention

from orchestratia.hub.session_cookies import csrf_for_session

from ...helpers import ADMIN, V1, Api, next_message


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def _running(api: Api, name: str = "dev-1", title: str = "needs help") -> tuple[dict, dict]:
    agent = await api.online(name)
    task = await api.task(agent=name, title=title)
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    return agent, task


async def _help(api: Api, agent: dict, task_id: str, **body: Any) -> httpx.Response:
    return await api.client.post(f"{V1}/tasks/{task_id}/help", json={"question": "q", **body}, headers=agent["headers"])


def _of_task(items: list[dict], task_id: str) -> list[dict]:
    return [i for i in items if i["task_id"] == task_id]


@contextlib.asynccontextmanager
async def _dashboard(api: Api) -> AsyncIterator[str]:
    """The dashboard's cookie session (the admin API token as ``orc_session``, the CSRF token
    bound to it as ``orc_csrf``); yields that CSRF token for forms."""
    token = api.headers["Authorization"].split()[1]
    api.client.cookies.set("orc_session", token)
    api.client.cookies.set("orc_csrf", csrf_for_session(token))
    try:
        yield csrf_for_session(token)
    finally:
        api.client.cookies.clear()


async def test_a_repeated_request_id_returns_the_same_intervention(api: Api) -> None:
    agent, task = await _running(api)
    key = str(uuid.uuid4())
    first = await _help(api, agent, task["id"], question="Which DB?", request_id=key)
    assert first.status_code == 201 and first.json()["status"] == "pending"
    again = await _help(api, agent, task["id"], question="Which DB?", request_id=key)  # the response was lost
    assert again.status_code == 200 and again.json() == first.json()
    listed = _of_task(await api.admin("GET", "/interventions"), task["id"])
    assert [i["id"] for i in listed] == [first.json()["id"]]
    async with _dashboard(api):
        page = await api.client.get("/interventions")
    assert page.status_code == 200 and page.text.count("Which DB?") == 1
    await api.admin("POST", f"/interventions/{first.json()['id']}/answer", json={"response": "Postgres"})
    late = await _help(api, agent, task["id"], question="Which DB?", request_id=key)
    assert late.status_code == 200 and late.json()["id"] == first.json()["id"] and late.json()["status"] == "answered"
    other = await _help(api, agent, task["id"], question="Next?", request_id=str(uuid.uuid4()))
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


async def test_the_key_is_per_task_and_a_replay_outlives_the_task(api: Api) -> None:
    agent, task = await _running(api)
    agent2, second_task = await _running(api, "dev-2")
    key = "same-key"
    one = await _help(api, agent, task["id"], request_id=key)
    two = await _help(api, agent2, second_task["id"], request_id=key)
    assert (one.status_code, two.status_code) == (201, 201) and one.json()["id"] != two.json()["id"]
    await api.agent(agent, "POST", f"/tasks/{task['id']}/complete", json={"result": {}})
    replay = await _help(api, agent, task["id"], request_id=key)  # the task is over: still the same answer
    assert replay.status_code == 200 and replay.json()["id"] == one.json()["id"]
    assert replay.json()["status"] == "cancelled"
    fresh = await _help(api, agent, task["id"], request_id="another")
    assert fresh.status_code == 409 and "completed" in fresh.json()["detail"]
    stolen = await _help(api, agent, second_task["id"], request_id=key)  # not this agent's task
    assert stolen.status_code == 404


async def test_concurrent_duplicates_make_one_intervention(api: Api) -> None:
    agent, task = await _running(api)
    key = str(uuid.uuid4())
    responses = await asyncio.gather(*(_help(api, agent, task["id"], request_id=key) for _ in range(10)))
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(_of_task(await api.admin("GET", "/interventions"), task["id"])) == 1


async def test_the_store_refuses_a_second_row_for_one_key(api: Api, hub) -> None:
    """The unique index itself (migration 0004): the last line of defence for concurrent twins.
    NULL keys (old clients) never collide."""
    agent, task = await _running(api)
    with pytest.raises(IntegrityError):
        async with hub.store.write() as session:
            session.add_all([Intervention(task_id=task["id"], question="a", request_id="k"),
                             Intervention(task_id=task["id"], question="b", request_id="k")])
    async with hub.store.write() as session:
        session.add_all([Intervention(task_id=task["id"], question="a"), Intervention(task_id=task["id"], question="b")])


async def test_an_old_client_without_request_id_works_as_before(api: Api) -> None:
    agent, task = await _running(api)
    first = await _help(api, agent, task["id"], question="same question")
    second = await _help(api, agent, task["id"], question="same question")
    assert (first.status_code, second.status_code) == (201, 201)
    assert set(first.json()) == {"id", "intervention_id", "status"} and first.json()["status"] == "pending"
    assert first.json()["id"] != second.json()["id"]  # v1: every POST is a new question
    got = await api.agent(agent, "GET", f"/interventions/{first.json()['id']}")
    assert set(got) == {"id", "task_id", "status", "question", "context", "response", "created_at", "answered_at"}
    assert len(_of_task(await api.admin("GET", "/interventions"), task["id"])) == 2
    bad = await _help(api, agent, task["id"], request_id="")
    assert bad.status_code == 422


async def test_withdraw_closes_the_question_for_the_human(api: Api, hub) -> None:
    agent, task = await _running(api)
    ask = (await _help(api, agent, task["id"], question="Deploy?", request_id="r1")).json()
    keep = (await _help(api, agent, task["id"], question="Other?")).json()
    async with hub.bus.subscribe("hub") as sub:
        gone = await api.agent(agent, "POST", f"/interventions/{ask['id']}/withdraw")
        event = await next_message(sub, kind="intervention")
    assert gone["status"] == "withdrawn" and gone["id"] == ask["id"]
    assert event == {"kind": "intervention", "id": ask["id"], "status": "withdrawn", "task_id": task["id"]}
    assert (await api.agent(agent, "POST", f"/interventions/{ask['id']}/withdraw"))["status"] == "withdrawn"
    shown = await api.admin("GET", f"/interventions/{ask['id']}")
    assert shown["status"] == "withdrawn" and shown["withdrawn_at"] and shown["response"] is None
    assert [i["id"] for i in await api.admin("GET", "/interventions?status=pending")] == [keep["id"]]
    assert [i["id"] for i in await api.admin("GET", "/interventions?status=withdrawn")] == [ask["id"]]
    assert (await api.admin("GET", f"/tasks/{task['id']}"))["waiting_for_human"] is True  # "Other?" waits
    late = await api.client.post(f"{ADMIN}/interventions/{ask['id']}/answer", json={"response": "yes"},
                                 headers=api.headers)
    assert late.status_code == 409 and "stopped waiting" in late.json()["detail"]
    assert (await api.agent(agent, "GET", f"/interventions/{ask['id']}"))["response"] is None
    await api.agent(agent, "POST", f"/interventions/{keep['id']}/withdraw")
    assert (await api.admin("GET", f"/tasks/{task['id']}"))["waiting_for_human"] is False
    replay = await _help(api, agent, task["id"], request_id="r1")
    assert replay.status_code == 200 and replay.json()["status"] == "withdrawn"


async def test_withdraw_only_own_pending_questions(api: Api) -> None:
    agent, task = await _running(api)
    other = await api.online("dev-2")
    ask = (await _help(api, agent, task["id"])).json()
    for who, path in [(other, ask["id"]), (agent, str(uuid.uuid4())), (agent, "not-a-uuid")]:
        r = await api.client.post(f"{V1}/interventions/{path}/withdraw", headers=who["headers"])
        assert r.status_code == 404 and r.json()["detail"] == "intervention not found"
    r = await api.client.post(f"{V1}/interventions/{ask['id']}/withdraw")
    assert r.status_code == 401
    await api.admin("POST", f"/interventions/{ask['id']}/answer", json={"response": "done"})
    r = await api.client.post(f"{V1}/interventions/{ask['id']}/withdraw", headers=agent["headers"])
    assert r.status_code == 409 and "answered" in r.json()["detail"]
    assert (await api.agent(agent, "GET", f"/interventions/{ask['id']}"))["response"] == "done"


async def test_the_dashboard_shows_a_withdrawn_question_as_closed(api: Api) -> None:
    agent, task = await _running(api)
    ask = (await _help(api, agent, task["id"], question="Still needed?")).json()
    await api.agent(agent, "POST", f"/interventions/{ask['id']}/withdraw")
    async with _dashboard(api) as csrf:
        page = (await api.client.get("/interventions")).text
        answered = await api.client.post(f"/interventions/{ask['id']}/answer", data={"csrf": csrf, "response": "yes"})
    pending, closed = page.split("Answered &amp; closed", 1)
    assert "Still needed?" not in pending and "Still needed?" in closed
    assert "stopped waiting" in closed and "pill-withdrawn" in closed
    assert answered.status_code == 303 and answered.headers["location"].endswith("?notice=withdrawn")
