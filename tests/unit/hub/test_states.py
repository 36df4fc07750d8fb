"""The task state machine: the one place a status changes, also under concurrency."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from orchestratia.protocol import TaskStatus
from orchestratia.hub.states import TransitionConflict, transition
from orchestratia.hub.store.models import Intervention, Task

from .helpers import V1, Api, agent_and_running_task


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_state_machine_in_one_place(api: Api, hub) -> None:
    _agent, task = await agent_and_running_task(api)
    async with hub.store.write() as session:
        row = await session.get(Task, task["id"])
        session.add(Intervention(task_id=row.id, question="?"))
        assert await transition(session, row, TaskStatus.COMPLETED) is True
        assert await transition(session, row, TaskStatus.COMPLETED) is False  # a repeat
        with pytest.raises(TransitionConflict) as info:
            await transition(session, row, TaskStatus.RUNNING)
        assert "completed" in info.value.detail
    async with hub.store.read() as session:
        statuses = (await session.execute(select(Intervention.status))).scalars().all()
        finished = (await session.get(Task, task["id"])).finished_at
    assert statuses == ["cancelled"]
    assert finished is not None and finished.tzinfo is not None


async def test_concurrent_complete_and_cancel_end_in_one_final_state(api: Api) -> None:
    agent, task = await agent_and_running_task(api)
    complete, cancel = await asyncio.gather(
        api.client.post(f"{V1}/tasks/{task['id']}/complete", json={"result": {}}, headers=agent["headers"]),
        api.client.post(f"/api/admin/tasks/{task['id']}/cancel", headers=api.headers),
    )
    assert sorted([complete.status_code, cancel.status_code]) == [200, 409]
    final = await api.status(task["id"])
    assert final == ("completed" if complete.status_code == 200 else "cancelled")
