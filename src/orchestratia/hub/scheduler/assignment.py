"""Assignment: queued tasks to eligible online agents, least busy first, in queue order.

A task created with no agent is ``queued``; it is assigned to an online agent that has its
repo (and runner, when named, not parked there by a usage limit), its labels and room
(a task waiting for parent tasks, in a rerun's backoff or held by a reached budget is not
yet in the queue): ``max_concurrent_tasks`` and one running
task per repo directory among those that run in the repo's checkout
(``queries.in_place_dir``), while its group is under its limit. The choices are
``planner.py``'s (pure); here the store reads and the transitions. The queue is read by
priority, then age. Replicas never assign one task twice (``SKIP LOCKED``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import TaskStatus
from orchestratia.hub.budgets import Holds, load_holds
from orchestratia.hub.costs import holding_budget
from orchestratia.hub.settings import HubSettings
from orchestratia.hub.states import transition
from orchestratia.hub.scheduler.dependencies import runnable
from orchestratia.hub.scheduler.parking import parked_pairs
from orchestratia.hub.scheduler.planner import JsonTexts, Planner, QueuedTask, Slot
from orchestratia.hub.store.models import Agent, Task, TaskGroup
from orchestratia.hub.store.queries import in_place_dir
from orchestratia.hub.store.transactions import Store

ACTIVE = (TaskStatus.ASSIGNED.value, TaskStatus.RUNNING.value)


async def assign_queued(store: Store, settings: HubSettings, now: datetime) -> set[str]:
    """Assign queued tasks to eligible online agents (``planner.py``: labels, groups, least
    busy first), in queue order: priority, then age."""
    async with store.read() as session:
        has_queued = (
            await session.execute(select(Task.id).where(Task.status == TaskStatus.QUEUED.value, *ready(now)).limit(1))
        ).first()
    if has_queued is None:
        return set()
    touched: set[str] = set()
    async with store.write() as session:
        planner = await _planner(session, settings, now)
        holds = await load_holds(session, now)  # a rerun's backoff, a reached budget
        chosen = await _plan_queue(session, planner, holds)
        if not chosen:
            return touched
        slots = {task.id: slot for task, slot in chosen}
        ids = list(slots)
        for i in range(0, len(ids), ID_CHUNK):
            rows = (
                await session.execute(
                    select(Task)
                    .where(Task.id.in_(ids[i : i + ID_CHUNK]), Task.status == TaskStatus.QUEUED.value)
                    .with_for_update(skip_locked=True)  # replicas never assign one task twice
                )
            ).scalars().all()
            for task in rows:
                await transition(session, task, TaskStatus.ASSIGNED, now=now, agent_id=slots[task.id].id)
                touched.add(slots[task.id].id)
    return touched


#: queued tasks read per query while agents have room (pages in queue order)
QUEUE_PAGE = 1000
#: ids per ``IN (...)`` (SQLite before 3.32 takes at most 999 parameters)
ID_CHUNK = 500


def ready(now: datetime) -> tuple[Any, ...]:
    """The filters of queued tasks the pass may assign now: none still waiting for a parent
    (``dependencies.runnable``), none in a rerun's backoff (retries)."""
    return runnable(), or_(Task.retry_at.is_(None), Task.retry_at <= now)


def _queue_query(priority: int, offset: int, now: datetime) -> Any:
    # One priority at a time, by age: exactly the order of ix_tasks_status_priority_created_at,
    # so a page is an index walk (ORDER BY priority DESC, created_at sorted the whole queue
    # for every page on SQLite: most of a 10,000-task pass). The JSON columns come as their
    # text: the planner decodes only what it must, each distinct text once. Pages by offset:
    # the queue does not change under the pass's own reads (a task created meanwhile on
    # PostgreSQL may be seen twice or not at all; the task id keys the plan, the next pass
    # sees it).
    # agent_id: the agent a task was created for; a rerun of one goes back to it
    # (requested_agent_id: a task back in the queue has no agent_id)
    return (select(Task.id, Task.target_repo, Task.runner, cast(Task.labels, Text).label("labels"),
                   Task.group_name, cast(Task.workspace_request, Text).label("workspace_request"),
                   func.coalesce(Task.agent_id, Task.requested_agent_id).label("agent_id"))
            .where(Task.status == TaskStatus.QUEUED.value, *ready(now), Task.priority == priority)
            .order_by(Task.created_at).offset(offset).limit(QUEUE_PAGE))


async def _plan_queue(session: AsyncSession, planner: Planner, holds: Holds) -> list[tuple[Any, Slot]]:
    """Read the queue page by page in queue order while some agent has room; plan each page.
    Before reading past the first page, one aggregate read says whether anything further
    could fit (the usual pass fills its few places from the first page and never pays it)."""
    chosen: list[tuple[Any, Slot]] = []
    decode, pages = JsonTexts(), 0
    if planner.free <= 0:
        return chosen
    conn = await session.connection()  # Core rows: no ORM work per row
    priorities = (await conn.execute(
        select(Task.priority).where(Task.status == TaskStatus.QUEUED.value, *ready(holds.now)).distinct())).scalars().all()
    for priority in sorted(priorities, reverse=True):
        offset = 0
        while planner.free > 0:
            if pages == 1 and not await _servable(conn, planner, decode, holds.now):
                return chosen
            page = (await conn.execute(_queue_query(priority, offset, holds.now))).all()
            pages += 1
            # a reached budget holds its tasks (hub-wide: all of them)
            fundable = [r for r in page if not holding_budget(decode(r.labels), holds.reached)] if holds.reached else page
            chosen += planner.plan_rows(fundable, decode)
            if len(page) < QUEUE_PAGE:
                break
            offset += len(page)
    return chosen


async def _servable(conn: Any, planner: Planner, decode: JsonTexts, now: datetime) -> bool:
    """Whether some queued task asks what an agent with room offers now: one aggregate read of
    the queue's distinct requirements (SQLite and PostgreSQL compute it without sending the
    rows), so a queue that fits none of the agents with room is never read row by row."""
    wants = await conn.execute(
        select(Task.target_repo, Task.runner, cast(Task.labels, Text), Task.group_name,
               cast(Task.workspace_request, Text), func.coalesce(Task.agent_id, Task.requested_agent_id))
        .where(Task.status == TaskStatus.QUEUED.value, *ready(now)).distinct()
    )
    for repo, runner, labels, group, request, agent_id in wants:
        if group is not None and planner.group_full(group):
            continue
        request = decode(request)
        want = QueuedTask("", repo or "", runner, decode(labels), group,
                          request if isinstance(request, dict) else None, agent_id)
        if planner.choose(want) is not None:
            return True
    return False


async def _planner(session: AsyncSession, settings: HubSettings, now: datetime) -> Planner:
    """The online agents with room (their load and busy directories), and the groups' counts
    and limits. A full fleet costs four small reads and no queue read at all."""
    # on PostgreSQL the group rows are locked first: replicas' passes then count a group's
    # active tasks one after another, and never both fill its last place
    limits = {g.name: g.max_active for g in (await session.execute(
        select(TaskGroup).order_by(TaskGroup.name).with_for_update())).scalars()}
    conn = await session.connection()
    cutoff = now - timedelta(seconds=settings.offline_after_s)
    caps = (await conn.execute(select(Agent.id, Agent.max_concurrent_tasks)
                               .where(Agent.revoked_at.is_(None), Agent.last_seen_at >= cutoff))).all()
    active = Task.status.in_(ACTIVE)
    load = dict((await conn.execute(select(Task.agent_id, func.count()).where(active, Task.agent_id.is_not(None))
                                    .group_by(Task.agent_id))).all())
    group_active = dict((await conn.execute(select(Task.group_name, func.count())
                                            .where(active, Task.group_name.is_not(None))
                                            .group_by(Task.group_name))).all())
    roomy = [agent_id for agent_id, cap in caps if load.get(agent_id, 0) < (cap or 1)]
    slots: dict[str, Slot] = {}
    for i in range(0, len(roomy), ID_CHUNK):
        ids = roomy[i : i + ID_CHUNK]
        for row in await conn.execute(select(Agent.id, Agent.name, Agent.os, Agent.repos, Agent.runners,
                                             Agent.labels, Agent.max_concurrent_tasks).where(Agent.id.in_(ids))):
            slots[row.id] = Slot.of(row)
            slots[row.id].load = load.get(row.id, 0)
        for agent_id, target, request in await conn.execute(
            select(Task.agent_id, Task.target_repo, Task.workspace_request).where(active, Task.agent_id.in_(ids))
        ):
            if (directory := in_place_dir(slots[agent_id].repos, target, request)) is not None:
                slots[agent_id].busy.add(directory)
    # usage limits: a runner parked on an agent waits there (scheduler/parking.py)
    return Planner(list(slots.values()), group_active, limits, await parked_pairs(session, now))
