"""The v1 agent API exactly per PROTOCOL.md, including bad input."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from orchestratia.hub.store.models import Agent, RegistrationToken, utcnow

from ...helpers import V1, Api, next_message


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param

REG = {"name": "n", "hostname": "h", "ip": "1.2.3.4", "os": "Linux", "repos": {}, "system_info": {}}


async def test_register_returns_id_name_key_and_key_works(api: Api) -> None:
    agent = await api.register("dev-1", repos={"app": {"path": "/srv/app", "branch": "main"}}, runners=["shell"])
    assert set(agent) >= {"id", "name", "api_key"} and agent["api_key"].startswith("orc_")
    assert await api.agent(agent, "POST", "/heartbeat", json={"system_info": {"cpu_count": 4}}) == {"status": "ok"}
    shown = await api.admin("GET", "/agents/dev-1")
    assert shown["status"] == "ONLINE" and shown["system_info"] == {"cpu_count": 4}
    assert shown["repos"]["app"]["path"] == "/srv/app" and shown["runners"] == ["shell"]


async def test_register_token_problems_say_which(api: Api, hub) -> None:
    async def register(token: str) -> tuple[int, str]:
        r = await api.client.post(f"{V1}/register", json={**REG, "registration_token": token})
        return r.status_code, r.json().get("detail", "")

    assert (await register("orcreg_nope.nope"))[0] == 401
    assert "unknown" in (await register("orcreg_nope.nope"))[1]
    used = await api.token()
    assert (await register(used))[0] == 200
    code, detail = await register(used)
    assert code == 401 and "already used" in detail
    revoked = await api.token()
    tokens = await api.admin("GET", "/tokens")
    revoked_id = next(t["id"] for t in tokens if t["status"] == "active")
    await api.admin("POST", f"/tokens/{revoked_id}/revoke")
    code, detail = await register(revoked)
    assert code == 401 and "revoked" in detail
    expired = await api.token()
    async with hub.store.write() as session:
        await session.execute(
            update(RegistrationToken)
            .where(RegistrationToken.used_at.is_(None), RegistrationToken.revoked_at.is_(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    code, detail = await register(expired)
    assert code == 401 and "expired" in detail
    statuses = sorted(t["status"] for t in await api.admin("GET", "/tokens"))
    assert statuses == ["expired", "revoked", "used"]


async def test_every_endpoint_wants_a_valid_key(api: Api) -> None:
    agent = await api.register("dev-1")
    task = await api.task(agent="dev-1")
    calls = [
        ("POST", "/heartbeat", {"system_info": {}}),
        ("GET", "/tasks/poll", None),
        ("POST", f"/tasks/{task['id']}/start", {}),
        ("POST", f"/tasks/{task['id']}/complete", {"result": {}}),
        ("POST", f"/tasks/{task['id']}/fail", {"error": "x"}),
        ("POST", f"/tasks/{task['id']}/help", {"question": "q"}),
        ("GET", f"/interventions/{task['id']}", None),
    ]
    for headers, why in [({}, "missing"), ({"X-API-Key": "orc_wrong"}, "unknown")]:
        for method, path, body in calls:
            r = await api.client.request(method, V1 + path, json=body, headers=headers)
            assert r.status_code == 401, (method, path, r.text)
            assert why in r.json()["detail"]
    await api.admin("POST", f"/agents/{agent['id']}/revoke")
    r = await api.client.get(f"{V1}/tasks/poll", headers=agent["headers"])
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


async def test_another_agents_task_is_404(api: Api) -> None:
    mine, other = await api.register("a"), await api.register("b")
    task = await api.task(agent="a")
    for path, body in [("start", {}), ("complete", {"result": {}}), ("fail", {"error": ""}), ("help", {"question": "q"})]:
        r = await api.client.post(f"{V1}/tasks/{task['id']}/{path}", json=body, headers=other["headers"])
        assert r.status_code == 404, (path, r.text)
    r = await api.client.post(f"{V1}/tasks/not-a-uuid/start", json={}, headers=other["headers"])
    assert r.status_code == 404
    await api.agent(mine, "POST", f"/tasks/{task['id']}/start", json={})
    ask = await api.agent(mine, "POST", f"/tasks/{task['id']}/help", 201, json={"question": "q"})
    r = await api.client.get(f"{V1}/interventions/{ask['id']}", headers=other["headers"])
    assert r.status_code == 404
    assert await api.agent(other, "GET", "/tasks/poll") == []


async def test_bad_bodies(api: Api) -> None:
    agent = await api.register("dev-1")
    h = {**agent["headers"], "Content-Type": "application/json"}
    r = await api.client.post(f"{V1}/heartbeat", content=b"{not json", headers=h)
    assert r.status_code == 422 and "malformed JSON" in r.json()["detail"]
    r = await api.client.post(f"{V1}/heartbeat", content=b'{"system_info": "\xff\xfe"}', headers=h)
    assert r.status_code == 400 and "UTF-8" in r.json()["detail"]
    big = b'{"system_info": {"x": "' + b"a" * (2 * 1024 * 1024) + b'"}}'
    r = await api.client.post(f"{V1}/heartbeat", content=big, headers=h)
    assert r.status_code == 413 and "too large" in r.json()["detail"]

    async def streamed():  # no Content-Length: the size is checked as the body arrives
        yield b'{"system_info": {"x": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}}'

    r = await api.client.post(f"{V1}/heartbeat", content=streamed(), headers=h)
    assert r.status_code == 413
    r = await api.client.post(f"{V1}/register", json={"name": "x"})
    assert r.status_code == 422 and "registration_token" in r.json()["detail"]
    assert (await api.agent(agent, "GET", "/tasks/poll")) == []  # still fine afterwards


async def test_transitions_repeat_is_200_disallowed_is_409(api: Api) -> None:
    agent = await api.register("dev-1")
    task = await api.task(agent="dev-1")
    tid = task["id"]
    r = await api.client.post(f"{V1}/tasks/{tid}/complete", json={"result": {}}, headers=agent["headers"])
    assert r.status_code == 409 and "assigned" in r.json()["detail"]
    await api.agent(agent, "POST", f"/tasks/{tid}/start", json={})
    await api.agent(agent, "POST", f"/tasks/{tid}/start", json={})  # a retry
    await api.agent(agent, "POST", f"/tasks/{tid}/complete", json={"result": {"exit_code": 0, "cost_usd": 0.1}})
    await api.agent(agent, "POST", f"/tasks/{tid}/complete", json={"result": {"exit_code": 0}})
    r = await api.client.post(f"{V1}/tasks/{tid}/fail", json={"error": "late"}, headers=agent["headers"])
    assert r.status_code == 409 and "completed" in r.json()["detail"]
    r = await api.client.post(f"{V1}/tasks/{tid}/start", json={}, headers=agent["headers"])
    assert r.status_code == 409
    shown = await api.admin("GET", f"/tasks/{tid}")
    assert shown["result"] == {"exit_code": 0, "cost_usd": 0.1} and shown["exit_code"] == 0


async def test_fail_from_assigned_and_from_running(api: Api) -> None:
    agent = await api.register("dev-1")
    a, b = await api.task(agent="dev-1"), await api.task(agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{a['id']}/fail", json={"error": "repo missing"})
    await api.agent(agent, "POST", f"/tasks/{b['id']}/start", json={})
    await api.agent(agent, "POST", f"/tasks/{b['id']}/fail", json={"error": "boom", "exit_code": 3})
    shown = await api.admin("GET", f"/tasks/{b['id']}")
    assert (shown["status"], shown["error"], shown["exit_code"]) == ("failed", "boom", 3)
    assert (await api.admin("GET", f"/tasks/{a['id']}"))["error"] == "repo missing"


async def test_fail_with_reason_timeout_ends_timed_out(api: Api) -> None:
    """Extension: our daemon's own timeout reports ``fail`` with ``"reason": "timeout"``."""
    from orchestratia.hub.store.models import Task

    agent = await api.register("dev-1")
    a, b, c, d = [await api.task(agent="dev-1") for _ in range(4)]
    for t in (a, b, c):
        await api.agent(agent, "POST", f"/tasks/{t['id']}/start", json={})
    body = {"error": "timed out: after 0.05 minutes", "exit_code": 130, "reason": "timeout"}
    await api.agent(agent, "POST", f"/tasks/{a['id']}/fail", json=body)
    shown = await api.admin("GET", f"/tasks/{a['id']}")
    assert (shown["status"], shown["error"], shown["exit_code"]) == ("timed_out", body["error"], 130)
    await api.agent(agent, "POST", f"/tasks/{a['id']}/fail", json=body)  # a retry: 200 again
    await api.agent(agent, "POST", f"/tasks/{a['id']}/complete", 409, json={"result": {}})
    await api.agent(agent, "POST", f"/tasks/{b['id']}/fail", json={**body, "reason": "something-new"})
    assert await api.status(b["id"]) == "failed"  # an unknown reason is an ordinary fail
    async with api.hub.store.write() as session:
        (await session.get(Task, c["id"])).status = "lost"
    await api.agent(agent, "POST", f"/tasks/{c['id']}/fail", json=body)
    assert await api.status(c["id"]) == "failed"  # a late report on a lost task, as without reason
    await api.agent(agent, "POST", f"/tasks/{d['id']}/fail", json=body)
    assert await api.status(d["id"]) == "failed"  # never started: an ordinary fail


async def test_help_and_intervention_flow(api: Api) -> None:
    agent = await api.register("dev-1")
    task = await api.task(agent="dev-1")
    r = await api.client.post(f"{V1}/tasks/{task['id']}/help", json={"question": "q"}, headers=agent["headers"])
    assert r.status_code == 409  # not running yet
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    ask = await api.agent(agent, "POST", f"/tasks/{task['id']}/help", 201, json={"question": "Which DB?", "context": "ctx"})
    assert ask["id"] == ask["intervention_id"] and ask["status"] == "pending"
    shown = await api.admin("GET", f"/tasks/{task['id']}")
    assert shown["status"] == "running" and shown["waiting_for_human"] is True
    got = await api.agent(agent, "GET", f"/interventions/{ask['id']}")
    assert got["response"] is None and got["status"] == "pending" and got["context"] == "ctx"
    assert set(got) >= {"id", "task_id", "status", "question", "context", "response", "created_at", "answered_at"}
    await api.admin("POST", f"/interventions/{ask['id']}/answer", json={"response": "Postgres"})
    got = await api.agent(agent, "GET", f"/interventions/{ask['id']}")
    assert got["status"] == "answered" and got["response"] == "Postgres" and got["answered_at"]
    assert (await api.admin("GET", f"/tasks/{task['id']}"))["waiting_for_human"] is False
    second = await api.agent(agent, "POST", f"/tasks/{task['id']}/help", 201, json={"question": "again?"})
    await api.agent(agent, "POST", f"/tasks/{task['id']}/complete", json={"result": {}})
    assert (await api.agent(agent, "GET", f"/interventions/{second['id']}"))["status"] == "cancelled"
    r = await api.client.get(f"{V1}/interventions/00000000-0000-0000-0000-000000000000", headers=agent["headers"])
    assert r.status_code == 404


async def test_poll_is_oldest_first_and_respects_room(api: Api) -> None:
    agent = await api.register("dev-1", repos={"a": "/srv/a", "a2": "/srv/a/", "b": "/srv/b", "c": "/srv/c"})
    t1 = await api.task(agent="dev-1", target_repo="a")
    t2 = await api.task(agent="dev-1", target_repo="a2")  # the same directory as "a"
    t3 = await api.task(agent="dev-1", target_repo="b")
    t4 = await api.task(agent="dev-1", target_repo="c")
    ids = [t["id"] for t in await api.agent(agent, "GET", "/tasks/poll")]
    assert ids == [t1["id"], t3["id"]]  # room 2; t2 waits for directory /srv/a
    await api.agent(agent, "POST", f"/tasks/{t1['id']}/start", json={})
    ids = [t["id"] for t in await api.agent(agent, "GET", "/tasks/poll")]
    assert ids == [t3["id"]]  # one slot left; t2's directory is busy
    await api.agent(agent, "POST", f"/tasks/{t1['id']}/complete", json={"result": {}})
    ids = [t["id"] for t in await api.agent(agent, "GET", "/tasks/poll")]
    assert ids == [t2["id"], t3["id"]]
    polled = (await api.agent(agent, "GET", "/tasks/poll"))[0]
    assert set(polled) >= {"id", "title", "spec", "target_repo", "status", "runner", "timeout_minutes", "created_at"}
    assert polled["status"] == "assigned" and t4["status"] == "assigned"


async def test_any_authenticated_request_counts_as_contact(api: Api, hub) -> None:
    agent = await api.register("dev-1")
    async with hub.store.write() as session:
        await session.execute(update(Agent).values(last_seen_at=utcnow() - timedelta(hours=1)))
    hub.liveness.forget(agent["id"])
    assert (await api.admin("GET", "/agents/dev-1"))["status"] == "OFFLINE"
    await api.agent(agent, "GET", "/tasks/poll")
    assert (await api.admin("GET", "/agents/dev-1"))["status"] == "ONLINE"


async def test_registration_is_not_contact(api: Api, hub) -> None:
    """Until its daemon's first authenticated request an agent is OFFLINE with no last contact;
    re-registering leaves the last contact as it was (it neither adds nor removes contact)."""
    async with hub.bus.subscribe("hub") as sub:
        agent = await api.register("dev-1")
        assert await next_message(sub, kind="agent") == {"kind": "agent", "id": agent["id"], "status": "OFFLINE"}
    shown = await api.admin("GET", "/agents/dev-1")
    assert (shown["status"], shown["last_seen_at"]) == ("OFFLINE", None)
    await api.agent(agent, "POST", "/heartbeat", json={})
    seen = (await api.admin("GET", "/agents/dev-1"))["last_seen_at"]
    assert seen is not None
    await api.register("dev-1", replace=True)  # ONLINE: only a replace may take the name
    again = await api.admin("GET", "/agents/dev-1")
    assert (again["status"], again["last_seen_at"]) == ("ONLINE", seen)


async def test_reregistering_a_name_rotates_the_key(api: Api) -> None:
    first = await api.register("dev-1")
    await api.agent(first, "GET", "/tasks/poll")  # the first key in use (and known to the hub)
    second = await api.register("dev-1", replace=True)  # ONLINE now: only a replace takes the name
    assert first["id"] == second["id"] and first["api_key"] != second["api_key"] and second["replaced"] is True
    r = await api.client.get(f"{V1}/tasks/poll", headers=first["headers"])
    assert r.status_code == 401
    await api.agent(second, "GET", "/tasks/poll")


async def test_bodies_may_be_left_out_where_nothing_is_required(api: Api) -> None:
    agent = await api.register("dev-1")
    task = await api.task(agent="dev-1")
    await api.agent(agent, "POST", "/heartbeat")
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start")
    await api.agent(agent, "POST", f"/tasks/{task['id']}/complete")
    assert (await api.admin("GET", f"/tasks/{task['id']}"))["result"] == {}


async def test_register_fills_in_the_ip_when_left_empty(api: Api) -> None:
    await api.register("dev-1", ip="")
    assert (await api.admin("GET", "/agents/dev-1"))["ip"] == "127.0.0.1"


async def test_twenty_concurrent_registrations_one_token_exactly_one_succeeds(api: Api) -> None:
    token = await api.token("race")

    async def attempt(i: int) -> httpx.Response:
        body = {"name": f"racer-{i}", "hostname": "h", "ip": "", "os": "", "repos": {}, "system_info": {}}
        return await api.client.post(f"{V1}/register", json={**body, "registration_token": token})

    responses = await asyncio.gather(*(attempt(i) for i in range(20)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [401] * 19, codes
    details = {r.json()["detail"] for r in responses if r.status_code == 401}
    assert all("already used" in d for d in details), details
    agents = await api.admin("GET", "/agents")
    assert len(agents) == 1
