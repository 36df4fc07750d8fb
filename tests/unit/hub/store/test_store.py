"""The store on BOTH SQLite and PostgreSQL: migrations (idempotent, matching the models, keeping
every row)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from orchestratia.hub.store.engine import Database
from orchestratia.hub.store.migrate import upgrade
from orchestratia.hub.store.models import Task


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@contextlib.asynccontextmanager
async def unmigrated_db(settings_factory: Any) -> AsyncIterator[Database]:
    """The test's store (SQLite file or PostgreSQL schema) with no migration applied yet: the
    caller upgrades to where its test starts. Disposed afterwards."""
    settings = settings_factory()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url(), settings.database_schema)
    try:
        yield db
    finally:
        await db.engine.dispose()


async def test_migrations_are_idempotent(hub) -> None:
    await upgrade(hub.db)  # the lifespan already ran them once
    async with hub.store.read() as session:
        assert (await session.execute(select(func.count()).select_from(Task))).scalar_one() == 0


async def test_migrations_match_the_models(hub) -> None:
    """The shipped migrations produce exactly the schema the models describe."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from orchestratia.hub.store.models import Base

    def diff(sync_conn):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with hub.db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_fractional_timeout_migration_keeps_every_row(settings_factory) -> None:
    """0001 -> 0002 (timeout_minutes INTEGER -> FLOAT) keeps tasks, their output and
    interventions (on SQLite the column is re-created, never the table: its ON DELETE CASCADE
    children would go with it), and fractions are stored afterwards; and back down again."""
    from sqlalchemy import text


    async with unmigrated_db(settings_factory) as db:
        await upgrade(db, "0001")
        async with db.engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO tasks (id, title, spec, target_repo, status, timeout_minutes, waiting_for_human, "
                "output_size, created_at) VALUES ('t1', 't', 's', '', 'running', 30, false, 3, CURRENT_TIMESTAMP)"))
            await conn.execute(text("INSERT INTO output_chunks (task_id, \"offset\", length, data, stream, created_at) "
                                    "VALUES ('t1', 0, 3, :d, 'stdout', CURRENT_TIMESTAMP)"), {"d": b"abc"})
        await upgrade(db)
        async with db.engine.begin() as conn:
            assert (await conn.execute(text("SELECT timeout_minutes FROM tasks"))).scalar_one() == 30
            assert (await conn.execute(text("SELECT data FROM output_chunks"))).scalar_one() == b"abc"
            await conn.execute(text("UPDATE tasks SET timeout_minutes = 0.05"))
        async with db.read() as session:
            assert (await session.get(Task, "t1")).timeout_minutes == 0.05
        await downgrade_to(db, "0001")
        async with db.engine.begin() as conn:
            assert (await conn.execute(text("SELECT timeout_minutes FROM tasks"))).scalar_one() == 1  # rounded up
            assert (await conn.execute(text("SELECT count(*) FROM output_chunks"))).scalar_one() == 1


async def downgrade_to(db, revision: str) -> None:
    from alembic import command

    from orchestratia.hub.store.migrate import alembic_config

    def run(sync_conn):  # type: ignore[no-untyped-def]
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.downgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)
