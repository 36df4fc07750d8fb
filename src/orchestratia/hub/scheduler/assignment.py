"""Assignment: queued tasks to eligible online agents, least busy first.

A task created with no agent is ``queued``; it is assigned to an online agent that has its
repo (and runner, when named) and room: ``max_concurrent_tasks`` and one running task per repo
directory among those that run in the repo's checkout (``queries.in_place_dir``). Replicas never assign one task twice (``SKIP LOCKED``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import TaskStatus
from orchestratia.hub.budgets import load_holds
from orchestratia.hub.settings import HubSettings
from orchestratia.hub.states import transition
from orchestratia.hub.store.models import Agent, Task
from orchestratia.hub.store.queries import in_place_dir
from orchestratia.hub.store.transactions import Store

ACTIVE = (TaskStatus.ASSIGNED.value, TaskStatus.RUNNING.value)


def runner_ok(agent: Agent, runner: str | None) -> bool:
    if not runner:
        return True
    if agent.runners is None:  # an old daemon: it runs Claude Code only
        return runner == "claude"
    return runner in agent.runners


async def assign_queued(store: Store, settings: HubSettings, now: datetime) -> set[str]:
    """Assign queued tasks to eligible online agents, least busy first."""
    async with store.read() as session:
        has_queued = (
            await session.execute(select(Task.id).where(Task.status == TaskStatus.QUEUED.value).limit(1))
        ).first()
    if has_queued is None:
        return set()
    touched: set[str] = set()
    async with store.write() as session:
        queued = (
            await session.execute(
                select(Task)
                .where(Task.status == TaskStatus.QUEUED.value)
                .order_by(Task.created_at)
                .limit(500)
                .with_for_update(skip_locked=True)  # replicas never assign one task twice
            )
        ).scalars().all()
        agents, load, busy = await _capacity(session, settings, now)
        holds = await load_holds(session, now)  # a rerun's backoff, a reached budget
        for task in queued:
            if holds.reason(task) is not None:
                continue
            agent = _choose(task, agents, load, busy)
            if agent is None:
                continue
            await transition(session, task, TaskStatus.ASSIGNED, now=now, agent_id=agent.id)
            load[agent.id] += 1
            if (directory := in_place_dir(agent.repos, task.target_repo, task.workspace_request)) is not None:
                busy[agent.id].add(directory)
            touched.add(agent.id)
    return touched

async def _capacity(
    session: AsyncSession, settings: HubSettings, now: datetime
) -> tuple[list[Agent], dict[str, int], dict[str, set[str]]]:
    cutoff = now - timedelta(seconds=settings.offline_after_s)
    agents = list(
        (
            await session.execute(
                select(Agent)
                .where(Agent.revoked_at.is_(None), Agent.last_seen_at >= cutoff)
                .order_by(Agent.name)
            )
        ).scalars()
    )
    load = {a.id: 0 for a in agents}
    busy: dict[str, set[str]] = {a.id: set() for a in agents}
    by_id = {a.id: a for a in agents}
    if agents:
        rows = await session.execute(
            select(Task.agent_id, Task.target_repo, Task.workspace_request)
            .where(Task.agent_id.in_(list(by_id)), Task.status.in_(ACTIVE))
        )
        for agent_id, target, request in rows:
            load[agent_id] += 1
            if (directory := in_place_dir(by_id[agent_id].repos, target, request)) is not None:
                busy[agent_id].add(directory)
    return agents, load, busy

def _choose(task: Task, agents: list[Agent], load: dict[str, int], busy: dict[str, set[str]]) -> Agent | None:
    best: Agent | None = None
    for agent in agents:
        if task.requested_agent_id and agent.id != task.requested_agent_id:
            continue  # a rerun of a task created for one agent goes back to it
        if task.target_repo and task.target_repo not in (agent.repos or {}):
            continue
        if not runner_ok(agent, task.runner) or load[agent.id] >= (agent.max_concurrent_tasks or 1):
            continue
        directory = in_place_dir(agent.repos, task.target_repo, task.workspace_request)
        if directory is not None and directory in busy[agent.id]:
            continue
        if best is None or load[agent.id] < load[best.id]:
            best = agent
    return best
