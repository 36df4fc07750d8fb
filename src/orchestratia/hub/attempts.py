"""A task's attempts: one ``task_attempts`` row per ended run, and the rerun of a failed run.

:func:`end_run` is how a run that failed ends (the fail report, the hub's timeout, a lost
agent): it records the cause and the cost, asks ``retries.plan_rerun`` whether the task runs
again, and either re-queues it (``running``/``assigned`` → ``queued``, with the backoff in
``retry_at``) or moves it to its final status. Both go through ``states.transition``, which
records the attempt (:func:`record_attempt`) for every run that ends.

Output per attempt: the task keeps one byte stream. A rerun appends one line of its own
("── attempt 2 on the next agent: retry 1/2 after 15 s (runner_failed) ──"), then the next run's
output; each attempt row holds its range (``output_start``..``output_end``), and
``tasks.output_base`` is where the current run's bytes start (its daemon counts offsets from 0
again: ``task_output`` adds the base).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import TaskStatus
from orchestratia.protocol.events import TaskOutputEvent
from orchestratia.hub.costs import RunCost, add
from orchestratia.hub.retries import Rerun, plan_rerun
from orchestratia.hub.store.models import Agent, OutputChunk, Task, TaskAttempt, utcnow


async def attempt_count(session: AsyncSession, task_id: str) -> int:
    query = select(func.count()).select_from(TaskAttempt).where(TaskAttempt.task_id == task_id)
    return int((await session.execute(query)).scalar_one())


async def record_attempt(session: AsyncSession, task: Task, status: str, now: datetime,
                         run: RunCost | None = None) -> TaskAttempt | None:
    """The row of the run that ends now (none for a task that never had an agent). A late
    report on a ``lost`` task updates the lost run's row instead of adding one."""
    if task.agent_id is None and task.assigned_at is None:
        return None
    run = run or RunCost()
    if task.status == TaskStatus.LOST.value:
        last = (await session.execute(
            select(TaskAttempt).where(TaskAttempt.task_id == task.id).order_by(TaskAttempt.number.desc()).limit(1)
        )).scalar_one_or_none()
        if last is not None:
            last.status, last.cause, last.error, last.exit_code = status, task.failure_cause, task.error, task.exit_code
            last.cost_usd, last.input_tokens = add(last.cost_usd, run.cost_usd), add(last.input_tokens, run.input_tokens)
            last.output_tokens = add(last.output_tokens, run.output_tokens)
            last.output_end = task.output_size or 0
            return last
    name = None
    if task.agent_id:
        name = (await session.execute(select(Agent.name).where(Agent.id == task.agent_id))).scalar_one_or_none()
    attempt = TaskAttempt(
        task_id=task.id, number=await attempt_count(session, task.id) + 1, agent_id=task.agent_id, agent_name=name,
        status=status, cause=task.failure_cause, error=task.error, exit_code=task.exit_code,
        assigned_at=task.assigned_at, started_at=task.started_at, finished_at=now,
        output_start=task.output_base or 0, output_end=task.output_size or 0,
        cost_usd=run.cost_usd, input_tokens=run.input_tokens, output_tokens=run.output_tokens,
    )
    session.add(attempt)
    return attempt


def add_cost(task: Task, run: RunCost | None) -> None:
    """The task's sums of what its runs reported."""
    if run is None or not run.known:
        return
    task.cost_usd = add(task.cost_usd, run.cost_usd)
    task.input_tokens = add(task.input_tokens, run.input_tokens)
    task.output_tokens = add(task.output_tokens, run.output_tokens)


async def end_run(session: AsyncSession, task: Task, target: TaskStatus, cause: str, *, settings: Any,
                  now: datetime | None = None, run: RunCost | None = None, **fields: Any) -> Rerun | None:
    """End the task's failed run for ``cause``: rerun it (returns the plan) or move it to
    ``target`` (returns None). ``fields`` as for ``states.transition`` (error, exit_code, ...)."""
    from orchestratia.hub.states import transition  # states imports this module

    now = now or utcnow()
    used = await attempt_count(session, task.id)
    plan = plan_rerun(cause, retry=task.retry or 0, retry_on=task.retry_on, retries_used=used - (task.requeues or 0),
                      requeues=task.requeues or 0, base_s=settings.retry_backoff_s, cap_s=settings.retry_backoff_max_s)
    if plan is None or task.status == TaskStatus.LOST.value:
        await transition(session, task, target, now=now, run=run, failure_cause=cause, **fields)
        return None
    for name, value in fields.items():
        setattr(task, name, value)
    task.failure_cause = cause
    await record_attempt(session, task, target.value, now, run)
    add_cost(task, run)
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
    from orchestratia.hub.states import emit

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
