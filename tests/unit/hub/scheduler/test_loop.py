"""The scheduler loop: kicks and periodic passes."""

from __future__ import annotations

import pytest

from ..helpers import Api, wait_for


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


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
