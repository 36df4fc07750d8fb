"""Upgrades: a store written at the first schema (0001) goes through every shipped migration, one
at a time, to the latest, on SQLite and on PostgreSQL; every row written at 0001 is still there
and readable through today's models (what a hub started on an old store sees)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text

from orchestratia.hub.store import models
from orchestratia.hub.store.backup import known_revisions
from orchestratia.hub.store.engine import Database
from orchestratia.hub.store.migrate import upgrade


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
CHUNKS = [b"first line\n", "second \u00e9 line\n".encode(), b"\x00\xffraw bytes\n"]
ROWS_AT_0001 = [
    ("INSERT INTO admins (id, username, password_hash, created_at) VALUES ('ad1', 'admin', 'h', :now)", {}),
    ("INSERT INTO agents (id, name, api_key_hash, hostname, ip, os, repos, system_info, labels, runners, "
     "agent_version, max_concurrent_tasks, created_at, last_seen_at) VALUES ('ag1', 'dev-1', 'k1', 'box', "
     "'10.0.0.1', 'Linux', :repos, '{}', '[\"gpu\"]', '[\"claude\"]', '0.1', 2, :now, :now)",
     {"repos": '{"work": "/srv/work"}'}),
    ("INSERT INTO admin_sessions (id, admin_id, token_hash, created_at, expires_at) "
     "VALUES ('s1', 'ad1', 'th', :now, :now)", {}),
    ("INSERT INTO registration_tokens (id, label, token_hash, created_at, expires_at, used_at, agent_id) "
     "VALUES ('r1', 'first', 'rt', :now, :now, :now, 'ag1')", {}),
    ("INSERT INTO tasks (id, title, spec, status, agent_id, target_repo, runner, timeout_minutes, result, "
     "exit_code, waiting_for_human, output_size, created_at, started_at, finished_at) VALUES ('t1', 'old task', "
     "'do it', 'completed', 'ag1', 'work', 'claude', 5, :result, 0, false, :size, :now, :now, :now)",
     {"result": '{"cost_usd": 0.25}', "size": sum(map(len, CHUNKS))}),
    ("INSERT INTO interventions (id, task_id, status, question, response, answered_by, created_at, answered_at) "
     "VALUES ('i1', 't1', 'answered', 'which branch?', 'main', 'admin', :now, :now)", {}),
]


async def write_at_0001(db: Database) -> None:
    now = WHEN.replace(tzinfo=None) if db.is_sqlite else WHEN  # as the hub writes them (models.UTCDateTime)
    async with db.engine.begin() as conn:
        for sql, params in ROWS_AT_0001:
            await conn.execute(text(sql), {"now": now, **params})
        offset = 0
        for data in CHUNKS:
            await conn.execute(text(
                'INSERT INTO output_chunks (task_id, "offset", length, data, stream, created_at) '
                "VALUES ('t1', :offset, :length, :data, 'stdout', :now)"),
                {"offset": offset, "length": len(data), "data": data, "now": now})
            offset += len(data)


async def counts(db: Database) -> dict[str, int]:
    tables = ["admins", "agents", "admin_sessions", "registration_tokens", "tasks", "interventions", "output_chunks"]
    async with db.engine.connect() as conn:
        return {t: (await conn.scalar(text(f"SELECT count(*) FROM {t}"))) for t in tables}


async def test_first_schema_to_latest_keeps_every_row(settings_factory) -> None:
    settings = settings_factory()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url(), settings.database_schema)
    revisions = known_revisions()
    assert revisions[0] == "0001" and len(revisions) >= 2
    try:
        await upgrade(db, "0001")
        await write_at_0001(db)
        written = await counts(db)
        assert written == {"admins": 1, "agents": 1, "admin_sessions": 1, "registration_tokens": 1, "tasks": 1,
                           "interventions": 1, "output_chunks": 3}
        for revision in revisions[1:]:
            await upgrade(db, revision)
            assert await counts(db) == written, f"rows changed at migration {revision}"
        async with db.engine.connect() as conn:
            assert await conn.scalar(text("SELECT version_num FROM alembic_version")) == revisions[-1]
        await read_back_with_todays_models(db)
    finally:
        await db.dispose()


async def read_back_with_todays_models(db: Database) -> None:
    async with db.read() as session:
        task = (await session.execute(select(models.Task))).scalar_one()
        agent = (await session.execute(select(models.Agent))).scalar_one()
        question = (await session.execute(select(models.Intervention))).scalar_one()
        chunks = (await session.execute(select(models.OutputChunk).order_by(models.OutputChunk.offset))).scalars().all()
    assert (task.title, task.status, task.agent_id, task.exit_code) == ("old task", "completed", "ag1", 0)
    assert task.timeout_minutes == 5.0 and task.result == {"cost_usd": 0.25}
    assert task.finished_at == WHEN
    assert (agent.name, agent.repos, agent.labels, agent.runners) == ("dev-1", {"work": "/srv/work"}, ["gpu"], ["claude"])
    # columns added later take their defaults on old rows
    assert (question.status, question.response, question.kind, question.request_id, question.withdrawn_at) == (
        "answered", "main", "question", None, None)
    assert b"".join(c.data for c in chunks) == b"".join(CHUNKS)
    assert task.output_size == sum(map(len, CHUNKS))
