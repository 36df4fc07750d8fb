"""A registration may not take the name of a live agent unless it asks to replace it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from orchestratia.hub.store.models import Agent, utcnow

from .helpers import V1, Api


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def v1_body(name: str, token: str) -> dict:
    """Exactly what a deployed v1 daemon sends: no ``replace``."""
    return {"name": name, "hostname": "web-2", "ip": "10.0.0.2", "os": "linux", "repos": {},
            "system_info": {}, "registration_token": token}


async def test_a_live_agents_name_is_refused_and_the_token_stays_usable(api: Api) -> None:
    holder = await api.online("dev-1")
    token = await api.token("second server")
    r = await api.client.post(f"{V1}/register", json=v1_body("dev-1", token))
    assert r.status_code == 409
    detail = r.json()["detail"]
    assert isinstance(detail, str) and holder["id"] in detail and "'dev-1'" in detail and "ONLINE" in detail
    assert "--name" in detail and "--replace" in detail and "still works" in detail
    # the holder is untouched: its key works and it keeps its name
    await api.agent(holder, "GET", "/tasks/poll")
    assert (await api.admin("GET", "/agents/dev-1"))["id"] == holder["id"]
    # the refused registration did not consume the token: another name goes through with it
    r = await api.client.post(f"{V1}/register", json=v1_body("dev-2", token))
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "dev-2" and r.json()["id"] != holder["id"] and r.json()["replaced"] is False
    again = await api.client.post(f"{V1}/register", json=v1_body("dev-3", token))
    assert again.status_code == 401 and "already used" in again.json()["detail"]


async def test_an_offline_agent_with_unfinished_tasks_holds_its_name(api: Api) -> None:
    holder = await api.register("dev-1")  # never seen: OFFLINE
    await api.task(agent="dev-1")
    r = await api.client.post(f"{V1}/register", json=v1_body("dev-1", await api.token()))
    assert r.status_code == 409
    assert "OFFLINE, 1 unfinished task)" in r.json()["detail"] and holder["id"] in r.json()["detail"]


async def test_a_bad_token_is_reported_before_the_name(api: Api) -> None:
    """Without a valid token nobody learns which names are taken."""
    await api.online("dev-1")
    r = await api.client.post(f"{V1}/register", json=v1_body("dev-1", "orcreg_nope.nope"))
    assert r.status_code == 401 and "dev-1" not in r.text


async def test_names_that_are_not_held_are_reused_as_before(api: Api, hub) -> None:
    never_seen = await api.register("fresh")  # registered, never ran, no tasks
    again = await api.register("fresh")
    assert again["id"] == never_seen["id"] and again["replaced"] is True  # the unused key was revoked

    gone = await api.online("gone")  # offline for an hour, no unfinished task
    await hub.liveness.flush_contacts()
    async with hub.store.write() as session:
        await session.execute(update(Agent).where(Agent.id == gone["id"])
                              .values(last_seen_at=utcnow() - timedelta(hours=1)))
    hub.liveness.forget(gone["id"])
    assert (await api.register("gone"))["id"] == gone["id"]

    revoked = await api.online("old")
    await api.task(agent="old")
    await api.admin("POST", f"/agents/{revoked['id']}/revoke")
    back = await api.register("old")
    assert back["id"] == revoked["id"] and back["replaced"] is False
    assert (await api.admin("GET", "/agents/old"))["status"] != "REVOKED"


async def test_replace_revokes_the_old_key_and_takes_the_name(api: Api) -> None:
    old = await api.online("dev-1")
    running = await api.task(agent="dev-1")
    await api.agent(old, "POST", f"/tasks/{running['id']}/start")
    waiting = await api.task(agent="dev-1")
    new = await api.register("dev-1", replace=True)
    assert new["id"] == old["id"] and new["name"] == "dev-1" and new["replaced"] is True
    r = await api.client.get(f"{V1}/tasks/poll", headers=old["headers"])
    assert r.status_code == 401
    # the old daemon's running task can no longer be reported by it: lost, saying why
    shown = await api.admin("GET", f"/tasks/{running['id']}")
    assert shown["status"] == "lost" and "--replace" in shown["error"]
    # the task it had not started goes to the new holder
    assert [t["id"] for t in await api.agent(new, "GET", "/tasks/poll")] == [waiting["id"]]
