"""The record of a task's ended runs (``task_attempts``): written by ``states.transition`` for
every run that ends, and by ``attempts.end_run`` for a run that is rerun."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import TaskStatus
from orchestratia.hub.costs import RunCost, add
from orchestratia.hub.store.models import Agent, Task, TaskAttempt


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
