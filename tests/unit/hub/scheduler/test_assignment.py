"""Scheduling: queued assignment (repo, runner, room, least busy), timeouts, lost, liveness."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from orchestratia.hub.store.models import Agent, Task, utcnow

from .helpers import Api, next_message, wait_for


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def _age_agent(hub, agent_id: str, seconds: float) -> None:
    async with hub.write() as session:
        await session.execute(
            update(Agent).where(Agent.id == agent_id).values(last_seen_at=utcnow() - timedelta(seconds=seconds))
        )
    hub.forget_touch(agent_id)


async def test_queued_task_waits_for_an_eligible_agent(api: Api, hub) -> None:
    task = await api.task(target_repo="web", runner="shell")
    assert task["status"] == "queued" and task["agent"] is None
    await api.online("no-repo", repos={"api": "/srv/api"}, runners=["shell"])
    await api.online("no-runner", repos={"web": "/srv/web"}, runners=["claude"])
    await hub.scheduler.tick()
    assert await api.status(task["id"]) == "queued"
    await api.online("good", repos={"web": "/srv/web"}, runners=["claude", "shell"])
    await hub.scheduler.tick()
    shown = await api.admin("GET", f"/tasks/{task['id']}")
    assert (shown["status"], shown["agent"]) == ("assigned", "good")


async def test_assignment_runs_on_its_own_when_kicked(api: Api) -> None:
    await api.online("dev-1")
    task = await api.task()

    async def assigned() -> bool:
        return await api.status(task["id"]) == "assigned"

    await wait_for(assigned, what="queued task assigned by the scheduler loop")


async def test_least_busy_first_and_room(api: Api, hub) -> None:
    busy = await api.online("busy", repos={"r": "/srv/r", "s": "/srv/s"})
    await api.online("idle", repos={"r": "/srv/r2", "s": "/srv/s2"})
    pinned = await api.task(agent="busy", target_repo="s")
    await api.agent(busy, "POST", f"/tasks/{pinned['id']}/start", json={})
    first = await api.task(target_repo="r")
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{first['id']}"))["agent"] == "idle"
    second = await api.task(target_repo="s")
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{second['id']}"))["agent"] == "idle"
    third = await api.task(target_repo="r")  # idle has 2 (full); busy has 1 and /srv/r free
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{third['id']}"))["agent"] == "busy"
    fourth = await api.task()  # everyone full
    await hub.scheduler.tick()
    assert await api.status(fourth["id"]) == "queued"


async def test_one_running_task_per_repo_directory_for_queued(api: Api, hub) -> None:
    agent = await api.online("solo", repos={"a": "/srv/a"})
    first = await api.task(target_repo="a")
    await hub.scheduler.tick()
    await api.agent(agent, "POST", f"/tasks/{first['id']}/start", json={})
    second = await api.task(target_repo="a")
    await hub.scheduler.tick()
    assert await api.status(second["id"]) == "queued"  # /srv/a is busy
    await api.agent(agent, "POST", f"/tasks/{first['id']}/complete", json={"result": {}})
    await hub.scheduler.tick()
    assert await api.status(second["id"]) == "assigned"


async def test_a_registered_agent_gets_queued_tasks_only_after_first_contact(api: Api, hub) -> None:
    task = await api.task()
    agent = await api.register("fresh")  # its daemon has not started yet
    await hub.scheduler.tick()
    assert await api.status(task["id"]) == "queued"
    async with hub.bus.subscribe("hub") as sub:
        await api.agent(agent, "GET", "/tasks/poll")  # the daemon's first contact
        assert await next_message(sub, kind="agent") == {"kind": "agent", "id": agent["id"], "status": "ONLINE"}

    async def assigned() -> bool:  # first contact kicks the scheduler loop
        return await api.status(task["id"]) == "assigned"

    await wait_for(assigned, what="the queued task assigned after the first contact")


async def test_offline_agents_get_nothing(api: Api, hub) -> None:
    agent = await api.register("gone")
    await _age_agent(hub, agent["id"], 3600)
    task = await api.task()
    await hub.scheduler.tick()
    assert await api.status(task["id"]) == "queued"
    await api.agent(agent, "POST", "/heartbeat", json={"system_info": {}})
    await hub.scheduler.tick()
    assert await api.status(task["id"]) == "assigned"


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


async def test_first_task_of_a_new_agent_is_not_lost_before_its_contact_is_written(api: Api, hub) -> None:
    agent = await api.register("dev-1")  # never seen: last_seen_at is null in the store
    task = await api.task(agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})  # contact, held in memory
    await hub.scheduler.check_lost(utcnow())  # a liveness check racing the contact writer
    assert await api.status(task["id"]) == "running"


async def test_lost_then_late_report_accepted(api: Api, hub) -> None:
    agent = await api.register("dev-1")
    task = await api.task(agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    await hub.scheduler.tick()
    assert await api.status(task["id"]) == "running"
    await _age_agent(hub, agent["id"], hub.settings.lost_grace_s + 1)
    assert (await api.admin("GET", "/agents/dev-1"))["status"] == "OFFLINE"
    await hub.scheduler.tick()
    assert await api.status(task["id"]) == "lost"
    await api.agent(agent, "POST", f"/tasks/{task['id']}/complete", json={"result": {"exit_code": 0}})
    assert await api.status(task["id"]) == "completed"


async def test_liveness_changes_are_published(api: Api, hub) -> None:
    agent = await api.online("dev-1")
    await hub.scheduler.tick()
    async with hub.bus.subscribe("hub") as sub:
        await _age_agent(hub, agent["id"], 3600)
        await hub.scheduler.tick()
        message = await next_message(sub, kind="agent")
        assert message == {"kind": "agent", "id": agent["id"], "status": "OFFLINE"}
        await api.agent(agent, "GET", "/tasks/poll")
        assert await next_message(sub, kind="agent") == {"kind": "agent", "id": agent["id"], "status": "ONLINE"}


async def test_revoked_agent_tasks_go_back_to_the_queue(api: Api, hub) -> None:
    agent = await api.online("dev-1")
    task = await api.task(agent="dev-1")
    revoked = await api.admin("POST", f"/agents/{agent['id']}/revoke")
    assert revoked["status"] == "REVOKED"
    shown = await api.admin("GET", f"/tasks/{task['id']}")
    assert (shown["status"], shown["agent"]) == ("queued", None)
    await api.online("dev-2")
    await hub.scheduler.tick()
    assert (await api.admin("GET", f"/tasks/{task['id']}"))["agent"] == "dev-2"
    async with hub.read() as session:
        assert (await session.get(Task, task["id"])).assigned_at is not None


async def test_steady_kicks_do_not_starve_periodic_checks(settings_factory) -> None:
    import asyncio

    import httpx

    from orchestratia.hub.app import create_app

    settings = settings_factory(check_interval_s=0.2, offline_after_s=0.2, lost_grace_s=0.5)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        hub = app.state.hub
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            api = Api(client, hub)
            await api.login()
            agent = await api.register("dev-1")
            task = await api.task(agent="dev-1")
            await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})

            async def kicker() -> None:
                while True:
                    hub.scheduler.kick(None)
                    await asyncio.sleep(0.02)

            spinning = asyncio.create_task(kicker())
            try:
                async def lost() -> bool:
                    return await api.status(task["id"]) == "lost"

                await wait_for(lost, timeout=10, what="task lost while the scheduler is kicked constantly")
            finally:
                spinning.cancel()


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
