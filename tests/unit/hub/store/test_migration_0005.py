"""Migration 0005 (tasks.workspace_request, tasks.workspace, task_diffs) on BOTH SQLite and
PostgreSQL: up from 0004 with rows in place, and back down without losing a task's other rows."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from orchestratia.hub.store.migrate import upgrade

from .test_store import downgrade_to, unmigrated_db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_0005_up_with_rows_then_down(settings_factory) -> None:
    async with unmigrated_db(settings_factory) as db:
        await upgrade(db, "0004")
        async with db.engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO tasks (id, title, spec, target_repo, status, waiting_for_human, output_size, created_at) "
                "VALUES ('t1', 't', 's', '', 'completed', false, 0, CURRENT_TIMESTAMP)"))
            await conn.execute(text("INSERT INTO interventions (id, task_id, status, question, created_at) "
                                    "VALUES ('i1', 't1', 'answered', 'q', CURRENT_TIMESTAMP)"))
        await upgrade(db)
        async with db.engine.begin() as conn:
            assert (await conn.execute(text("SELECT workspace, workspace_request FROM tasks"))).one() == (None, None)
            await conn.execute(text("UPDATE tasks SET workspace = '{\"kind\": \"worktree\"}'"))
            await conn.execute(text("INSERT INTO task_diffs (task_id, files, diff, diff_truncated, created_at) "
                                    "VALUES ('t1', '[]', '+x', false, CURRENT_TIMESTAMP)"))
        await downgrade_to(db, "0004")
        async with db.engine.begin() as conn:
            assert (await conn.execute(text("SELECT id FROM interventions"))).all() == [("i1",)]
            assert (await conn.execute(text("SELECT id FROM tasks"))).all() == [("t1",)]
        await upgrade(db)  # and up again
