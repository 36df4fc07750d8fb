"""Migration 0009 (tasks.group_name, task_groups, the queue index) on SQLite and PostgreSQL: up
from 0006 with a task in place, down, and up again."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from orchestratia.hub.store.migrate import upgrade

from .test_store import downgrade_to, unmigrated_db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_0009_up_with_rows_then_down(settings_factory) -> None:
    async with unmigrated_db(settings_factory) as db:
        await upgrade(db, "0008")
        async with db.engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO tasks (id, title, spec, target_repo, status, waiting_for_human, output_size, created_at, "
                "priority) VALUES ('t1', 't', 's', '', 'queued', false, 0, CURRENT_TIMESTAMP, 1)"))
        await upgrade(db, "0009")
        async with db.engine.begin() as conn:
            assert tuple((await conn.execute(text("SELECT priority, group_name FROM tasks"))).one()) == (1, None)
            await conn.execute(text("UPDATE tasks SET group_name = 'team'"))
            await conn.execute(text("INSERT INTO task_groups (name, max_active, created_at, updated_at) "
                                    "VALUES ('team', 2, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        await downgrade_to(db, "0008")
        async with db.engine.begin() as conn:
            assert (await conn.execute(text("SELECT title FROM tasks"))).scalar_one() == "t"  # the task stays
        await upgrade(db, "0009")  # and up again
        async with db.engine.begin() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM task_groups"))).scalar_one() == 0
