"""Store-level behaviour on BOTH SQLite and PostgreSQL: migrations, one-use tokens under
concurrency, output offset rules, the state machine."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from orchestratia.protocol import TaskStatus
from orchestratia.hub.output import DUPLICATE, GAP, NOT_FOUND, STORED, append_output
from orchestratia.hub.states import TransitionConflict, transition
from orchestratia.hub.store.migrate import upgrade
from orchestratia.hub.store.models import Intervention, OutputChunk, Task

from .helpers import V1, Api


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_migrations_are_idempotent(hub) -> None:
    await upgrade(hub.db)  # the lifespan already ran them once
    async with hub.read() as session:
        assert (await session.execute(select(func.count()).select_from(Task))).scalar_one() == 0


async def test_twenty_concurrent_registrations_one_token_exactly_one_succeeds(api: Api) -> None:
    token = await api.token("race")

    async def attempt(i: int) -> httpx.Response:
        body = {"name": f"racer-{i}", "hostname": "h", "ip": "", "os": "", "repos": {}, "system_info": {}}
        return await api.client.post(f"{V1}/register", json={**body, "registration_token": token})

    responses = await asyncio.gather(*(attempt(i) for i in range(20)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [401] * 19, codes
    details = {r.json()["detail"] for r in responses if r.status_code == 401}
    assert all("already used" in d for d in details), details
    agents = await api.admin("GET", "/agents")
    assert len(agents) == 1


async def _running_task(api: Api, name: str = "dev-1") -> tuple[dict, dict]:
    agent = await api.register(name)
    task = await api.task(agent=name)
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    return agent, task


async def test_output_offset_rules(api: Api, hub) -> None:
    agent, task = await _running_task(api)
    tid, aid = task["id"], agent["id"]
    assert (await append_output(hub, aid, tid, b"hello ", offset=0)).status == STORED
    assert (await append_output(hub, aid, tid, b"hello ", offset=0)) .status == DUPLICATE
    gap = await append_output(hub, aid, tid, b"zzz", offset=100)
    assert (gap.status, gap.next_offset) == (GAP, 6)
    overlap = await append_output(hub, aid, tid, b"o world", offset=4)  # "o " already held
    assert (overlap.status, overlap.next_offset) == (STORED, 11)
    v1 = await append_output(hub, aid, tid, "\n✓".encode(), offset=None)
    assert (v1.status, v1.next_offset) == (STORED, 11 + len("\n✓".encode()))
    assert (await append_output(hub, "someone-else", tid, b"x")).status == NOT_FOUND
    r = await api.client.get(f"/api/admin/tasks/{tid}/output", headers=api.headers)
    assert r.content == "hello world\n✓".encode()
    assert r.headers["X-Next-Offset"] == str(len(r.content))
    r = await api.client.get(f"/api/admin/tasks/{tid}/output?offset=6", headers=api.headers)
    assert r.content == "world\n✓".encode()
    async with hub.read() as session:
        chunks = (await session.execute(select(OutputChunk).order_by(OutputChunk.offset))).scalars().all()
    assert [(c.offset, c.length) for c in chunks] == [(0, 6), (6, 5), (11, 4)]


async def test_long_output_is_served_whole_and_as_a_download(api: Api, hub) -> None:
    """More than 16 MiB (the old per-response cap) comes back in one response, from any offset,
    with X-Next-Offset at the end; ?download=1 names the file."""
    agent, task = await _running_task(api)
    tid = task["id"]
    mib = 1024 * 1024
    for i in range(17):
        piece = bytes([65 + i]) * (mib - 1) + b"\n"
        assert (await append_output(hub, agent["id"], tid, piece, offset=i * mib)).status == STORED
    total = 17 * mib
    r = await api.client.get(f"/api/admin/tasks/{tid}/output", headers=api.headers)
    assert r.status_code == 200 and len(r.content) == total and r.headers["X-Next-Offset"] == str(total)
    assert r.content[16 * mib:16 * mib + 3] == b"QQQ" and r.content.endswith(b"Q\n")
    assert "content-disposition" not in r.headers
    start = 5 * mib + 7
    r = await api.client.get(f"/api/admin/tasks/{tid}/output?offset={start}&download=1", headers=api.headers)
    assert len(r.content) == total - start and r.content[:1] == b"F" and r.headers["X-Next-Offset"] == str(total)
    assert r.headers["content-disposition"] == f'attachment; filename="task-{tid}.log"'
    r = await api.client.get(f"/api/admin/tasks/{tid}/output?offset={total + 5}", headers=api.headers)
    assert r.content == b"" and r.headers["X-Next-Offset"] == str(total + 5)


async def test_binary_output_is_stored_byte_for_byte(api: Api, hub) -> None:
    agent, task = await _running_task(api)
    raw = b"\xff\xfe ok \xe2\x9c"  # not UTF-8, and a cut character at the end
    assert (await append_output(hub, agent["id"], task["id"], raw, offset=0)).status == STORED
    r = await api.client.get(f"/api/admin/tasks/{task['id']}/output", headers=api.headers)
    assert r.content == raw


async def test_state_machine_in_one_place(api: Api, hub) -> None:
    _agent, task = await _running_task(api)
    async with hub.write() as session:
        row = await session.get(Task, task["id"])
        session.add(Intervention(task_id=row.id, question="?"))
        assert await transition(session, row, TaskStatus.COMPLETED) is True
        assert await transition(session, row, TaskStatus.COMPLETED) is False  # a repeat
        with pytest.raises(TransitionConflict) as info:
            await transition(session, row, TaskStatus.RUNNING)
        assert "completed" in info.value.detail
    async with hub.read() as session:
        statuses = (await session.execute(select(Intervention.status))).scalars().all()
        finished = (await session.get(Task, task["id"])).finished_at
    assert statuses == ["cancelled"]
    assert finished is not None and finished.tzinfo is not None


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

    from orchestratia.hub.store.engine import Database

    settings = settings_factory()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url(), settings.database_schema)
    try:
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
    finally:
        await db.engine.dispose()


async def downgrade_to(db, revision: str) -> None:
    from alembic import command

    from orchestratia.hub.store.migrate import alembic_config

    def run(sync_conn):  # type: ignore[no-untyped-def]
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.downgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def test_first_answer_wins_under_concurrency(api: Api) -> None:
    agent, task = await _running_task(api)
    ask = await api.agent(agent, "POST", f"/tasks/{task['id']}/help", 201, json={"question": "q"})
    answers = await asyncio.gather(
        *(
            api.client.post(f"/api/admin/interventions/{ask['id']}/answer", json={"response": f"r{i}"}, headers=api.headers)
            for i in range(8)
        )
    )
    assert sorted(r.status_code for r in answers) == [200] + [409] * 7
    winner = next(r.json()["response"] for r in answers if r.status_code == 200)
    got = await api.agent(agent, "GET", f"/interventions/{ask['id']}")
    assert got["response"] == winner


async def test_concurrent_complete_and_cancel_end_in_one_final_state(api: Api) -> None:
    agent, task = await _running_task(api)
    complete, cancel = await asyncio.gather(
        api.client.post(f"{V1}/tasks/{task['id']}/complete", json={"result": {}}, headers=agent["headers"]),
        api.client.post(f"/api/admin/tasks/{task['id']}/cancel", headers=api.headers),
    )
    assert sorted([complete.status_code, cancel.status_code]) == [200, 409]
    final = await api.status(task["id"])
    assert final == ("completed" if complete.status_code == 200 else "cancelled")
