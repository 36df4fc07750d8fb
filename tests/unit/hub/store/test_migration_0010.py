"""Migration 0010 (task_dependencies, pipelines, tasks.pipeline_id/pipeline_node/deps_pending)
on BOTH SQLite and PostgreSQL: up from 0006 with a task in place, and back down, and up again."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from orchestratia.hub.store.migrate import upgrade

from .test_store import downgrade_to, unmigrated_db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


TASK = ("INSERT INTO tasks (id, title, spec, target_repo, status, waiting_for_human, output_size, created_at) "
        "VALUES (:id, 't', 's', '', 'queued', false, 0, CURRENT_TIMESTAMP)")


async def test_0010_up_with_rows_then_down(settings_factory) -> None:
    async with unmigrated_db(settings_factory) as db:
        await upgrade(db, "0009")
        async with db.engine.begin() as conn:
            await conn.execute(text(TASK), {"id": "old"})
        await upgrade(db, "0010")
        async with db.engine.begin() as conn:
            row = (await conn.execute(text("SELECT deps_pending, pipeline_id, pipeline_node FROM tasks"))).one()
            assert (bool(row[0]), row[1], row[2]) == (False, None, None)  # an existing task may run as before
            await conn.execute(text(TASK), {"id": "new"})
            await conn.execute(text("INSERT INTO pipelines (id, name, created_at) VALUES ('p', 'p', CURRENT_TIMESTAMP)"))
            await conn.execute(text("INSERT INTO task_dependencies (task_id, depends_on_id) VALUES ('new', 'old')"))
            await conn.execute(text("UPDATE tasks SET pipeline_id = 'p', pipeline_node = 'b', deps_pending = true "
                                    "WHERE id = 'new'"))
        await downgrade_to(db, "0009")
        async with db.engine.begin() as conn:
            ids = sorted((await conn.execute(text("SELECT id FROM tasks"))).scalars())
        assert ids == ["new", "old"]
        await upgrade(db)  # and up again
