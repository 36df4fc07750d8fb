"""Store queries shared by the APIs and the scheduler."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import TaskStatus
from orchestratia.protocol.shared import is_uuid
from orchestratia.hub.store.models import Agent, OutputChunk, Task, utcnow


def repo_dir(repos: dict[str, Any] | None, name: str | None) -> str | None:
    """The local directory of repo ``name`` on an agent, or None (no repo / unknown repo)."""
    if not name or not repos or name not in repos:
        return None
    entry = repos[name]
    if isinstance(entry, dict):
        entry = entry.get("path")
    return str(entry).rstrip("/") or "/" if entry else None


def in_place_dir(repos: dict[str, Any] | None, name: str | None, request: dict[str, Any] | None) -> str | None:
    """The repo directory a task runs in when it runs in the repo's own checkout (then one task
    at a time there), or None: no repo, or its own worktree. A task runs in a worktree when the
    agent registered the repo with ``"workspace": "worktree"`` (daemons that make worktrees
    say so; v1 daemons, which run every task in the checkout, never do) and the task did not
    ask for ``in_place``."""
    directory = repo_dir(repos, name)
    if directory is None:
        return None
    entry = (repos or {}).get(name or "")
    worktree = isinstance(entry, dict) and entry.get("workspace") == "worktree"
    if worktree and (request or {}).get("kind") != "in_place":
        return None
    return directory


async def agent_by_key_hash(session: AsyncSession, key_hash: str) -> Agent | None:
    return (await session.execute(select(Agent).where(Agent.api_key_hash == key_hash))).scalar_one_or_none()


async def agents_with_assigned_tasks(session: AsyncSession, among: list[str] | None = None) -> set[str]:
    """Ids of the agents (of ``among``, or all) that have an assigned task."""
    query = select(Task.agent_id).where(Task.status == TaskStatus.ASSIGNED.value).distinct()
    if among is not None:
        query = query.where(Task.agent_id.in_(among))
    return {row[0] for row in await session.execute(query) if row[0]}


async def find_agent(session: AsyncSession, id_or_name: str) -> Agent | None:
    if is_uuid(id_or_name):
        agent = await session.get(Agent, id_or_name)
        if agent is not None:
            return agent
    return (await session.execute(select(Agent).where(Agent.name == id_or_name))).scalar_one_or_none()


async def agent_names(session: AsyncSession, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = await session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(wanted)))
    return {row[0]: row[1] for row in rows}


async def running_task_ids(session: AsyncSession, agent_ids: Iterable[str]) -> dict[str, list[str]]:
    wanted = list(agent_ids)
    result: dict[str, list[str]] = {i: [] for i in wanted}
    if not wanted:
        return result
    rows = await session.execute(
        select(Task.agent_id, Task.id)
        .where(Task.agent_id.in_(wanted), Task.status == TaskStatus.RUNNING.value)
        .order_by(Task.started_at)
    )
    for agent_id, task_id in rows:
        result[agent_id].append(task_id)
    return result


async def agent_task(session: AsyncSession, agent_id: str, task_id: str, *, lock: bool = False) -> Task | None:
    """The task if it belongs to ``agent_id`` (else None: answered 404, ids cannot be probed)."""
    if not is_uuid(task_id):
        return None
    query = select(Task).where(Task.id == task_id, Task.agent_id == agent_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def output_positions(session: AsyncSession, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
    """``(output_size, output_base)`` of each ``(task_id, agent_id)`` pair whose task is that
    agent's, in one read of those two columns, locked in id order (two writers that lock the same
    tasks never wait on each other crosswise; another agent's task is neither read nor locked)."""
    wanted = sorted((t, a) for t, a in set(pairs) if is_uuid(t))
    if not wanted:
        return {}
    query = (select(Task.id, Task.agent_id, Task.output_size, Task.output_base)
             .where(tuple_(Task.id, Task.agent_id).in_(wanted)).order_by(Task.id).with_for_update())
    return {(tid, aid): (size or 0, base or 0) for tid, aid, size, base in await session.execute(query)}


@functools.cache
def _active_tasks_of_agent() -> Select:
    """Built once (building a statement costs more than running it from the compiled cache)."""
    active = [TaskStatus.RUNNING.value, TaskStatus.ASSIGNED.value, TaskStatus.PARKED.value]
    return (
        select(Task)
        .where(Task.agent_id == bindparam("agent_id"), Task.status.in_(active))
        .order_by(Task.priority.desc(), Task.created_at, Task.id)  # high priority first (--priority)
    )


async def offerable_tasks(session: AsyncSession, agent: Agent, *, with_flag: bool = False) -> Any:
    """Assigned tasks the agent has room to start now, by priority then oldest first (``with_flag``: and whether
    it has any assigned task at all, room or not).

    Room: ``max_concurrent_tasks`` minus running tasks, and one running task per repo directory
    among tasks that run in the repo's checkout (:func:`in_place_dir`).
    """
    tasks = (await session.execute(_active_tasks_of_agent(), {"agent_id": agent.id})).scalars().all()
    offer = _offer(agent, without_parked(tasks))
    if with_flag:
        return offer, any(t.status == TaskStatus.ASSIGNED.value for t in tasks)
    return offer


def without_parked(tasks: Any, now: datetime | None = None) -> list[Task]:
    """An agent's tasks without its parked ones, and without its assigned tasks of a runner
    parked on it until later (a usage limit: docs/scheduling.md). A runner is compared as given."""
    now = now or utcnow()
    parked = {t.runner or None for t in tasks
              if t.status == TaskStatus.PARKED.value and t.parked_until is not None and t.parked_until > now}
    return [t for t in tasks if t.status != TaskStatus.PARKED.value
            and not (t.status == TaskStatus.ASSIGNED.value and (t.runner or None) in parked)]


def _offer(agent: Agent, tasks: Any) -> list[Task]:
    running = [t for t in tasks if t.status == TaskStatus.RUNNING.value]
    room = max(0, (agent.max_concurrent_tasks or 1) - len(running))
    busy = {d for t in running if (d := in_place_dir(agent.repos, t.target_repo, t.workspace_request))}
    offer: list[Task] = []
    for task in tasks:
        if len(offer) >= room:
            break
        if task.status != TaskStatus.ASSIGNED.value:
            continue
        directory = in_place_dir(agent.repos, task.target_repo, task.workspace_request)
        if directory is not None and directory in busy:
            continue
        if directory is not None:
            busy.add(directory)
        offer.append(task)
    return offer


async def read_output(session: AsyncSession, task_id: str, offset: int, limit: int = 8 * 1024 * 1024) -> list[OutputChunk]:
    """Chunks covering ``[offset, ...)`` in order, up to about ``limit`` bytes.

    The first chunk may start before ``offset`` (callers slice it)."""
    rows = (
        await session.execute(
            select(OutputChunk)
            .where(OutputChunk.task_id == task_id, OutputChunk.offset + OutputChunk.length > offset)
            .order_by(OutputChunk.offset)
            .limit(4096)
        )
    ).scalars().all()
    chunks: list[OutputChunk] = []
    total = 0
    for chunk in rows:
        chunks.append(chunk)
        total += chunk.length
        if total >= limit:
            break
    return chunks


def slice_from(chunk: OutputChunk, offset: int) -> bytes:
    """The bytes of ``chunk`` at or after ``offset``."""
    skip = max(0, offset - chunk.offset)
    return bytes(chunk.data[skip:]) if skip else bytes(chunk.data)
