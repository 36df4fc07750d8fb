"""Expiry: running tasks past their ``timeout_minutes`` get ``task_cancel`` and end
``timed_out``; expired admin sessions are deleted."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from orchestratia.protocol import TaskStatus, WsTaskCancel
from orchestratia.hub.attempts import end_run
from orchestratia.hub.states import push, transition
from orchestratia.hub.store.models import AdminSession, Task
from orchestratia.hub.store.transactions import Store


async def check_timeouts(store: Store, now: datetime, settings: Any = None) -> int:
    """End running tasks past their ``timeout_minutes`` as ``timed_out`` (or rerun them when
    their retry policy says so: ``attempts.end_run``; ``settings`` gives the backoff)."""
    async with store.read() as session:
        rows = (
            await session.execute(
                select(Task.id, Task.started_at, Task.timeout_minutes).where(
                    Task.status == TaskStatus.RUNNING.value, Task.timeout_minutes.is_not(None)
                )
            )
        ).all()
    due = [r[0] for r in rows if r[1] is not None and r[1] + timedelta(minutes=r[2]) <= now]
    for task_id in due:
        async with store.write() as session:
            task = await session.get(Task, task_id, with_for_update=True)
            if task is None or task.status != TaskStatus.RUNNING.value:
                continue
            reason = f"timed out after {task.timeout_minutes:g} minutes"
            agent_id = task.agent_id  # a rerun clears it: the cancel still goes to the run's agent
            if settings is None:
                await transition(session, task, TaskStatus.TIMED_OUT, now=now, error=reason, cancel_reason=reason,
                                 failure_cause="timed_out")
            else:
                await end_run(session, task, TaskStatus.TIMED_OUT, "timed_out", settings=settings, now=now,
                              error=reason, cancel_reason=reason)
            if agent_id:
                push(session, agent_id, WsTaskCancel(task_id=task.id, reason=reason))
    return len(due)


async def purge_sessions(store: Store, now: datetime) -> None:
    """Delete expired admin sessions."""
    async with store.write() as session:
        await session.execute(delete(AdminSession).where(AdminSession.expires_at < now))
