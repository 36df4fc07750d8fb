"""Usage limits park, then resume (docs/scheduling.md, "Usage limits").

When a CLI reports its plan's usage limit (our daemon's ``fail`` with ``reason:
"usage_limit"`` and ``resets_at``), the running task becomes ``parked`` until the reset, its
attempt's ``failure_cause`` ``usage_limit``. Until then its agent is offered no task of that
runner (other agents still get them; the agent still gets other runners' tasks). At the reset
the scheduler's periodic pass gives the task back to its agent (``assigned``, ahead of queued
work) with ``resume``: the same CLI conversation in the same workspace, told to go on.

``parked`` is hub-side state: no daemon ever receives a task in that status (poll and
``task_assigned`` carry assigned tasks only).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import TaskStatus
from orchestratia.hub.conversation import resume_self
from orchestratia.hub.states import transition
from orchestratia.hub.store.models import Agent, Task
from orchestratia.hub.store.transactions import Store

PARKED = TaskStatus.PARKED.value
#: a limit with no reset time in the CLI's output waits this long (Claude's shortest window is
#: five hours; an hour retries sooner and parks again if it is still on)
DEFAULT_PARK = timedelta(hours=1)
#: a reset further away than this is taken as this (a wrong clock or a bad value parks a task
#: for at most a week; Claude's longest window is seven days)
MAX_PARK = timedelta(days=8)
CAUSE = "usage_limit"


def park_until(resets_at: datetime | None, now: datetime) -> datetime:
    """When a task parked at ``now`` resumes: the reset (at least a few seconds ahead, at most
    ``MAX_PARK``), or ``DEFAULT_PARK`` from now when the CLI did not say."""
    if resets_at is None:
        return now + DEFAULT_PARK
    if resets_at.tzinfo is None:
        resets_at = resets_at.replace(tzinfo=timezone.utc)
    return min(max(resets_at, now + timedelta(seconds=1)), now + MAX_PARK)


def park_target(task: Task) -> TaskStatus:
    """A running task parks; from any other status the report is an ordinary fail (a repeat of
    the park answers as a repeat)."""
    return TaskStatus.PARKED if task.status in (TaskStatus.RUNNING.value, PARKED) else TaskStatus.FAILED


def park_fields(task: Task, resets_at: datetime | None, now: datetime) -> dict[str, Any]:
    """The fields a park sets, besides the report's own (result, error, exit_code, session_id):
    computed on the task as it is (its workspace was reported before the fail)."""
    if park_target(task) != TaskStatus.PARKED:
        return {"failure_cause": CAUSE}
    return {"parked_until": park_until(resets_at, now), "failure_cause": CAUSE}


def finish_park(task: Task) -> None:
    """After the park: what the resumed run continues (its conversation id is known now)."""
    if task.status == PARKED:
        task.resume = resume_self(task)


async def resume_due(store: Store, now: datetime) -> set[str]:
    """Give every parked task whose reset has come back to its agent (``assigned``); a task
    whose agent was revoked meanwhile fails. The agents to push to."""
    async with store.read() as session:
        due = (await session.execute(select(Task.id).where(Task.status == PARKED, Task.parked_until <= now)
                                     .limit(1))).first()
    if due is None:
        return set()
    touched: set[str] = set()
    async with store.write() as session:
        tasks = (await session.execute(
            select(Task).where(Task.status == PARKED, Task.parked_until <= now).order_by(Task.parked_until)
            .limit(500).with_for_update(skip_locked=True)
        )).scalars().all()
        for task in tasks:
            agent = await session.get(Agent, task.agent_id) if task.agent_id else None
            if agent is None or agent.revoked_at is not None:
                await transition(session, task, TaskStatus.FAILED, now=now, parked_until=None,
                                 error=f"{task.error or 'usage limit'}; its agent was revoked while it was parked")
                continue
            await transition(session, task, TaskStatus.ASSIGNED, now=now, parked_until=None, error=None,
                             failure_cause=None)  # the attempt that resumes has not failed
            touched.add(agent.id)
    return touched


async def parked_pairs(session: AsyncSession, now: datetime) -> set[tuple[str, str | None]]:
    """(agent id, runner) of every task parked until later: that agent is offered no task of
    that runner meanwhile. A runner is compared as given (None: the agent's default)."""
    rows = await session.execute(select(Task.agent_id, Task.runner)
                                 .where(Task.status == PARKED, Task.parked_until > now))
    return {(agent_id, runner or None) for agent_id, runner in rows if agent_id}


def allowed(agents: Iterable[Agent], task: Task, pairs: set[tuple[str, str | None]]) -> list[Agent]:
    """The agents that may take ``task``: not those with its runner parked."""
    return [a for a in agents if (a.id, task.runner or None) not in pairs]


def parked_reason(task: Any, now: datetime) -> str:
    """``parked until 15:00 UTC (usage limit)`` (with the date when it is not today)."""
    until = task.parked_until
    if until is None:
        return "parked (usage limit)"
    if until.tzinfo is None:
        until = until.replace(tzinfo=timezone.utc)
    until = until.astimezone(timezone.utc)
    when = until.strftime("%H:%M UTC") if until.date() == now.date() else until.strftime("%Y-%m-%d %H:%M UTC")
    return f"parked until {when} (usage limit)"
