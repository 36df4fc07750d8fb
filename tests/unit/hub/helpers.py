"""Small helpers for hub tests (a thin client over the real API; no mocks of our modules)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from orchestratia.hub.store.models import Agent, utcnow

ADMIN_PASSWORD = "test-admin-password"
V1 = "/api/v1/agents"
ADMIN = "/api/admin"
#: for a test in a module whose other tests run on SQLite only: run it on PostgreSQL too
BOTH_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])


async def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``condition`` (a function, sync or async) until it returns something truthy, or fail
    after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Api:
    def __init__(self, client: httpx.AsyncClient, hub: Any) -> None:
        self.client = client
        self.hub = hub
        self.headers: dict[str, str] = {}

    async def login(self, password: str = ADMIN_PASSWORD) -> None:
        r = await self.client.post(f"{ADMIN}/login", json={"username": "admin", "password": password})
        assert r.status_code == 200, r.text
        self.headers = {"Authorization": f"Bearer {r.json()['token']}"}

    async def admin(self, method: str, path: str, expect: int | None = 200, **kwargs: Any) -> Any:
        r = await self.client.request(method, ADMIN + path, headers=self.headers, **kwargs)
        if expect is not None:
            assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else r

    async def token(self, label: str = "t", expires_in: str = "24h") -> str:
        body = await self.admin("POST", "/tokens", 201, json={"label": label, "expires_in": expires_in})
        return body["token"]

    async def register(self, name: str = "dev-1", **extra: Any) -> dict[str, Any]:
        token = await self.token(name)
        body = {"name": name, "hostname": name, "ip": "127.0.0.1", "os": "Linux", "repos": {}, "system_info": {}}
        body.update(extra)
        r = await self.client.post(f"{V1}/register", json={**body, "registration_token": token})
        assert r.status_code == 200, r.text
        data = r.json()
        data["headers"] = {"X-API-Key": data["api_key"]}
        return data

    async def online(self, name: str = "dev-1", **extra: Any) -> dict[str, Any]:
        """Register, then the daemon's first contact (a heartbeat): registering alone is not
        contact, so only now is the agent ONLINE and offered queued tasks."""
        agent = await self.register(name, **extra)
        await self.agent(agent, "POST", "/heartbeat", json={"system_info": {}})
        return agent

    async def agent(self, agent: dict[str, Any], method: str, path: str, expect: int | None = 200, **kwargs: Any) -> Any:
        r = await self.client.request(method, V1 + path, headers=agent["headers"], **kwargs)
        if expect is not None:
            assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    async def running_task(self, agent: dict[str, Any]) -> str:
        """A task for ``agent``, started by it: its id."""
        task = await self.task(agent=agent["name"])
        await self.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
        return task["id"]

    async def task(self, **fields: Any) -> dict[str, Any]:
        body = {"title": "t", "spec": "echo hi", **fields}
        return await self.admin("POST", "/tasks", 201, json=body)

    async def status(self, task_id: str) -> str:
        return (await self.admin("GET", f"/tasks/{task_id}"))["status"]


async def next_message(sub: Any, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
    """The JSON of the next bus message (a typed event or push) whose fields equal ``match``
    (others are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        model = await sub.get(timeout=max(0.01, left))
        message = model.model_dump(mode="json") if model is not None else None
        if message is not None and all(message.get(k) == v for k, v in match.items()):
            return message
        if loop.time() > deadline:
            raise AssertionError(f"no message matching {match}")


@contextlib.asynccontextmanager
async def second_hub(settings_factory: Any) -> AsyncIterator[tuple[Any, Api]]:
    """Another hub process on the same store (a replica, or the hub after a restart), with an
    admin client logged in to it."""
    from orchestratia.hub.app import create_app

    application = create_app(settings_factory())
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica.test") as client:
            other = Api(client, application.state.hub)
            await other.login()
            yield application.state.hub, other


async def agent_and_running_task(api: Api, name: str = "dev-1") -> tuple[dict, dict]:
    """A newly registered agent and a task it has started."""
    agent = await api.register(name)
    task = await api.task(agent=name)
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    return agent, task


async def age_agent(hub: Any, agent_id: str, seconds: float) -> None:
    """Make the agent's last contact ``seconds`` old (in the store, and forgotten in memory)."""
    async with hub.store.write() as session:
        await session.execute(
            update(Agent).where(Agent.id == agent_id).values(last_seen_at=utcnow() - timedelta(seconds=seconds))
        )
    hub.liveness.forget(agent_id)
