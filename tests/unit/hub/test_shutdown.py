"""The hub stops promptly even when its loops were woken just before being cancelled.

Before Python 3.12, ``asyncio.wait_for(event.wait(), t)`` swallows a cancel that arrives as
the event is set; the scheduler then waited ``check_interval_s`` (an hour in these tests) more
and the hub's shutdown hung (CI: teardown of test_polls_racing_assignments_never_lose_one)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from orchestratia.hub.app import create_app
from orchestratia.protocol.shared import wait_set

from .helpers import Api, second_hub


async def test_a_cancel_right_after_set_stops_the_loop() -> None:
    event, passes = asyncio.Event(), 0

    async def loop() -> None:
        nonlocal passes
        while True:
            await wait_set(event, 3600)
            event.clear()
            passes += 1

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)  # the loop waits
    event.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done and task.cancelled(), "the cancel was swallowed: the loop went round again"
    assert passes == 0


async def test_wait_set_says_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await wait_set(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_set(event, 10) is True


async def test_a_scheduler_kicked_just_before_stop_stops(hub: Any) -> None:
    hub.scheduler.kick("some-agent")  # as the last contact flush does for an agent come online
    stopping = asyncio.create_task(hub.scheduler.stop())
    done, _ = await asyncio.wait({stopping}, timeout=10)
    assert done, "the scheduler went round again instead of stopping (a lost cancel)"


async def test_the_hub_shuts_down_after_an_agent_came_online(settings_factory: Any) -> None:
    """The last flush at shutdown stores a new agent's contact, announces it ONLINE and kicks
    the scheduler, which is stopped next: the lifespan ends, and the contact is stored."""
    app = create_app(settings_factory())
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            api = Api(client, app.state.hub)
            await api.login()
            agent = await api.online("dev-1")
    finally:
        closing = asyncio.create_task(lifespan.__aexit__(None, None, None))
        done, _ = await asyncio.wait({closing}, timeout=30)
    assert done, "the hub's shutdown hung"
    async with second_hub(settings_factory) as (_, restarted):
        listed = {a["id"]: a for a in await restarted.admin("GET", "/agents")}
    assert listed[agent["id"]]["last_seen_at"], listed[agent["id"]]
    assert listed[agent["id"]]["status"] == "ONLINE", listed[agent["id"]]
