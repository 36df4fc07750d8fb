"""Hub test fixtures: an app per test on SQLite (or PostgreSQL in a fresh schema), an httpx
client over the ASGI transport, and a real uvicorn on 127.0.0.1:0 for WebSocket / SSE."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from orchestratia.hub.app import create_app
from orchestratia.hub.settings import load_settings

from .helpers import ADMIN_PASSWORD, Api


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@contextlib.asynccontextmanager
async def pg_schema(postgres_url: str) -> AsyncIterator[str]:
    schema = "t_" + uuid.uuid4().hex[:12]
    yield schema
    engine = create_async_engine(postgres_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


@pytest.fixture
async def settings_factory(tmp_path, request: pytest.FixtureRequest, backend: str) -> AsyncIterator[Any]:
    async with contextlib.AsyncExitStack() as stack:
        db: dict[str, Any] = {}
        if backend == "postgres":
            url = request.getfixturevalue("postgres_url")
            db = {"database_url": url, "database_schema": await stack.enter_async_context(pg_schema(url))}

        def make(**overrides: Any):
            values = {
                "data_dir": tmp_path / "data",
                "admin_password": ADMIN_PASSWORD,
                "check_interval_s": 3600.0,
                "public_url": None,
                "redis_url": None,
                "argon2_time_cost": 1,
                "argon2_memory_kib": 8192,
                "argon2_parallelism": 1,
                **db,
                **overrides,
            }
            return load_settings(**values)

        yield make


@pytest.fixture
async def app(settings_factory) -> AsyncIterator[Any]:
    application = create_app(settings_factory())
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def hub(app) -> Any:
    return app.state.hub


@pytest.fixture
async def api(app) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        helper = Api(client, app.state.hub)
        await helper.login()
        yield helper


class LiveServer:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="warning", ws="websockets-sansio")
        )
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "LiveServer":
        self._task = asyncio.create_task(self.server.serve())
        deadline = asyncio.get_running_loop().time() + 20
        while not self.server.started:
            if self._task.done():
                self._task.result()
            assert asyncio.get_running_loop().time() < deadline, "uvicorn did not start"
            await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=10)
        if not done:  # open streams: stop waiting for them
            self.server.force_exit = True
            done, _ = await asyncio.wait({self._task}, timeout=10)
        if not done:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    @property
    def hub(self) -> Any:
        return self.app.state.hub


@pytest.fixture
async def live(settings_factory) -> AsyncIterator[Any]:
    """A real uvicorn serving a fresh hub; ``live.api`` is a logged-in client."""
    application = create_app(settings_factory())
    async with LiveServer(application) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            server.api = Api(client, application.state.hub)
            await server.api.login()
            yield server
