"""A store that cannot write: the hub does not start on one, a running hub's /health and
/readyz go red when its store stops writing (and green when it writes again), and a request
whose write the store refuses gets a 503 naming the cause instead of an opaque 500.

The store is made read-only the way SQLite itself does it (``PRAGMA query_only`` on every new
connection, or ``mode=ro``): it answers writes with SQLITE_READONLY, as a read-only file does
(the file case, as a non-root user, is in tests/integration/test_store_guards.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event

from orchestratia import __version__
from orchestratia.hub.app import create_app
from orchestratia.hub.store.guard import StoreNotWritable

from .helpers import Api


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@contextlib.asynccontextmanager
async def read_only(hub: Any) -> AsyncIterator[None]:
    """Every connection opened from now on refuses writes (SQLite: SQLITE_READONLY; PostgreSQL:
    a read-only transaction, 25006); the pool is emptied so none is old."""
    def query_only(dbapi_conn: Any, _record: Any) -> None:
        if hub.db.is_sqlite:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()
        else:  # on the raw connection, outside the adapter's transaction (which would undo it)
            dbapi_conn.run_async(lambda conn: conn.execute("SET default_transaction_read_only = on"))

    engine = hub.db.engine.sync_engine
    event.listen(engine, "connect", query_only)
    await hub.db.engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", query_only)
        await hub.db.engine.dispose()


async def test_health_endpoints_when_the_store_writes(api: Api) -> None:
    r = await api.client.get("/health")
    assert (r.status_code, r.json()) == (200, {"status": "ok", "version": __version__})  # as before
    r = await api.client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    r = await api.client.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "checks": {"store": "ok"}}


async def test_a_store_that_stops_writing_turns_health_red_and_writes_into_503(api: Api) -> None:
    async with read_only(api.hub):
        r = await api.client.post("/api/admin/tasks", headers=api.headers, json={"title": "t", "spec": "s"})
        assert r.status_code == 503, r.text
        assert "read-only" in r.json()["detail"] and "nothing was changed" in r.json()["detail"]
        assert r.headers.get("retry-after") == "5"
        listed = await api.admin("GET", "/tasks")  # reads still work
        assert listed == []
        r = await api.client.get("/health")
        assert r.status_code == 503 and r.json()["status"] == "error", r.text
        assert "cannot write" in r.json()["detail"] and "read-only" in r.json()["detail"]
        r = await api.client.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["store"] != "ok", r.text
        assert (await api.client.get("/healthz")).status_code == 200  # the process is alive
    api.hub.db.write_health.recheck_failed_s = 0.0  # probe again at once (5 s in service)
    r = await api.client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    await api.task(title="after")  # and writes go through again


async def test_a_quiet_hub_notices_a_read_only_store(api: Api) -> None:
    """No write for a while: /readyz probes the store itself (a write that is rolled back)."""
    async with read_only(api.hub):
        api.hub.db.write_health.checked_at -= 3600  # the last write outcome is an hour old
        r = await api.client.get("/readyz")
        assert r.status_code == 503, r.text
        assert "read-only" in r.json()["detail"]


@pytest.mark.parametrize("backend", ["sqlite"])  # a file opened read-only (mode=ro): SQLite's case
async def test_the_hub_does_not_start_on_a_read_only_store(settings_factory: Any, tmp_path: Any) -> None:
    made = create_app(settings_factory())
    async with made.router.lifespan_context(made):  # a store with the schema, as a hub leaves it
        pass
    path = tmp_path / "data" / "orchestratia.db"
    ro = create_app(settings_factory(database_url=f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"))
    with pytest.raises(StoreNotWritable, match="cannot be written: attempt to write a readonly database"):
        async with ro.router.lifespan_context(ro):
            pass
