"""Migration 0007 (tasks.session_id, tasks.resume, tasks.parked_until) on BOTH SQLite and
PostgreSQL: up from 0006 with a task in place, and back down keeping it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from orchestratia.hub.store.migrate import upgrade

from .test_store import downgrade_to, unmigrated_db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_0007_up_with_rows_then_down(settings_factory) -> None:
    async with unmigrated_db(settings_factory) as db:
        await upgrade(db, "0006")
        async with db.engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO tasks (id, title, spec, target_repo, status, waiting_for_human, output_size, created_at) "
                "VALUES ('t1', 't', 's', '', 'completed', false, 0, CURRENT_TIMESTAMP)"))
        await upgrade(db)
        async with db.engine.begin() as conn:
            row = (await conn.execute(text("SELECT session_id, resume, parked_until FROM tasks"))).one()
            assert tuple(row) == (None, None, None)
            await conn.execute(text("UPDATE tasks SET session_id = 's-1', resume = '{\"session_id\": \"s-0\"}', "
                                    "parked_until = CURRENT_TIMESTAMP"))
        await downgrade_to(db, "0006")
        async with db.engine.begin() as conn:
            assert (await conn.execute(text("SELECT id FROM tasks"))).all() == [("t1",)]
        await upgrade(db)  # and up again
