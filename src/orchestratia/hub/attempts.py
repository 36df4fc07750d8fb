"""A task's attempts: one ``task_attempts`` row per ended run, and the rerun of a failed run.

:func:`end_run` is how a run that failed ends (the fail report, the hub's timeout, a lost
agent): it records the cause and the cost, asks ``retries.plan_rerun`` whether the task runs
again, and either re-queues it (``running``/``assigned`` → ``queued``, with the backoff in
``retry_at``) or moves it to its final status. Both go through ``states.transition``, which
records the attempt (``attempt_log.record_attempt``) for every run that ends.

Output per attempt: the task keeps one byte stream. A rerun appends one line of its own
("── attempt 2 on the next agent: retry 1/2 after 15 s (runner_failed) ──"), then the next run's
output; each attempt row holds its range (``output_start``..``output_end``), and
``tasks.output_base`` is where the current run's bytes start (its daemon counts offsets from 0
again: ``task_output`` adds the base).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import TaskStatus
from orchestratia.protocol.events import TaskOutputEvent
from orchestratia.hub.attempt_log import add_cost, attempt_count, record_attempt
from orchestratia.hub.costs import RunCost
from orchestratia.hub.retries import Rerun, plan_rerun
from orchestratia.hub.states import emit, transition
from orchestratia.hub.store.models import OutputChunk, Task, TaskAttempt, utcnow


async def end_run(session: AsyncSession, task: Task, target: TaskStatus, cause: str, *, settings: Any,
                  now: datetime | None = None, run: RunCost | None = None, **fields: Any) -> Rerun | None:
    """End the task's failed run for ``cause``: rerun it (returns the plan) or move it to
    ``target`` (returns None). ``fields`` as for ``states.transition`` (error, exit_code, ...)."""
    now = now or utcnow()
    used = await attempt_count(session, task.id)
    plan = plan_rerun(cause, retry=task.retry or 0, retry_on=task.retry_on, retries_used=used - (task.requeues or 0),
                      requeues=task.requeues or 0, base_s=settings.retry_backoff_s, cap_s=settings.retry_backoff_max_s,
                      started=task.status != TaskStatus.ASSIGNED.value)
    if plan is None or task.status == TaskStatus.LOST.value:
        await transition(session, task, target, now=now, run=run, failure_cause=cause, **fields)
        return None
    for name, value in fields.items():
        setattr(task, name, value)
    task.failure_cause = cause
    await record_attempt(session, task, target.value, now, run)
    add_cost(task, run)
    task.attempt = used + 2  # the next run's number (a new task_assigned push on every connection)
    if plan.automatic:
        task.requeues = (task.requeues or 0) + 1
    task.retry_at = now + timedelta(seconds=plan.delay_s) if plan.delay_s > 0 else None
    _attempt_line(session, task, used + 1, target.value, plan)
    await transition(session, task, TaskStatus.QUEUED, now=now, record=False)
    task.started_at = None
    task.exit_code = None
    return plan


def _attempt_line(session: AsyncSession, task: Task, ended: int, status: str, plan: Rerun) -> None:
    """One line of the hub's own in the task's output between two attempts; the next run's
    bytes start after it (``output_base``)."""
    wait = f" after {plan.delay_s:g} s" if plan.delay_s > 0 else ""
    text = f"\n── attempt {ended} {status} ({plan.cause}); attempt {ended + 1}: {plan.label()}{wait} ──\n"
    data = text.encode()
    held = task.output_size or 0
    session.add(OutputChunk(task_id=task.id, offset=held, length=len(data), data=data, stream="stdout"))
    task.output_size = held + len(data)
    task.output_base = task.output_size
    emit(session, TaskOutputEvent.of_bytes(task.id, held, data, "stdout"))


async def attempts_of(session: AsyncSession, task_id: str) -> list[TaskAttempt]:
    query = select(TaskAttempt).where(TaskAttempt.task_id == task_id).order_by(TaskAttempt.number)
    return list((await session.execute(query)).scalars())


async def waiting_reruns(session: AsyncSession, task_ids: list[str]) -> dict[str, tuple[int, datetime | None, str | None]]:
    """Per task: how many runs ended, when the last did, and its cause (for ``queue_reason``)."""
    if not task_ids:
        return {}
    rows = await session.execute(
        select(TaskAttempt.task_id, TaskAttempt.number, TaskAttempt.finished_at, TaskAttempt.cause)
        .where(TaskAttempt.task_id.in_(task_ids)).order_by(TaskAttempt.number)
    )
    return {task_id: (number, finished, cause) for task_id, number, finished, cause in rows}
