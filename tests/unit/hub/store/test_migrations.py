"""Migration 0004 (interventions.request_id + its per-task unique index, withdrawn_at) on BOTH
SQLite and PostgreSQL: up from 0003 with rows in place, and back down."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from orchestratia.hub.store.engine import Database
from orchestratia.hub.store.migrate import upgrade

from .test_store import downgrade_to, unmigrated_db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


INSERT = ("INSERT INTO interventions (id, task_id, status, question, created_at{cols}) "
          "VALUES (:id, 't1', :status, 'q', CURRENT_TIMESTAMP{vals})")


async def _insert(db: Database, id_: str, status: str = "pending", request_id: str | None = None) -> None:
    cols, vals = (", request_id", ", :rid") if request_id is not None else ("", "")
    async with db.engine.begin() as conn:
        await conn.execute(text(INSERT.format(cols=cols, vals=vals)), {"id": id_, "status": status, "rid": request_id})


async def test_0004_up_with_rows_then_down(settings_factory) -> None:
    async with unmigrated_db(settings_factory) as db:
        await upgrade(db, "0003")
        async with db.engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO tasks (id, title, spec, target_repo, status, waiting_for_human, output_size, created_at) "
                "VALUES ('t1', 't', 's', '', 'running', true, 0, CURRENT_TIMESTAMP)"))
        await _insert(db, "old-1")
        await upgrade(db)
        async with db.engine.begin() as conn:
            row = (await conn.execute(text("SELECT status, request_id, withdrawn_at FROM interventions"))).one()
        assert tuple(row) == ("pending", None, None)  # an existing question is untouched
        await _insert(db, "old-2")  # NULL keys never collide
        await _insert(db, "new-1", request_id="k1")
        with pytest.raises(IntegrityError):
            await _insert(db, "new-2", request_id="k1")
        await _insert(db, "gone", status="withdrawn", request_id="k2")
        await downgrade_to(db, "0003")
        async with db.engine.begin() as conn:
            rows = dict((await conn.execute(text("SELECT id, status FROM interventions"))).all())
        assert rows == {"old-1": "pending", "old-2": "pending", "new-1": "pending", "gone": "cancelled"}
        await upgrade(db)  # and up again
