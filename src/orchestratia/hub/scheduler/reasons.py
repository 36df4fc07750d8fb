"""Why a task waits: ``queue_reason``, one sentence a person can act on.

Computed for the task views only (``GET /tasks``, ``GET /tasks/{id}``, the task stream), from
one read of the agents, one of their active tasks and one of the parked ones, reused for every task of the list, never
by the scheduler's pass. The rules mirror ``assignment._choose`` (queued tasks) and
``queries._offer`` (assigned tasks the daemon has not started):

* queued, waiting for a parent task (``--after``, a pipeline's ``needs``): ``waiting for task
  ab12cd34 (running)`` (``dependencies.dependency_reasons``), before any of the below;
* queued: no agent at all / none has the repo / none has the runner / none has the labels (a
  task no registered agent could ever take: ``tasks create`` warns) / they are offline / its
  group is at its limit / at capacity / busy in the repo's directory / an agent has room (the
  next pass assigns it);
* assigned, not started: its agent is offline / at capacity / busy in the repo's directory /
  has its runner parked by a usage limit / has room (its daemon starts it at its next poll or
  push);
* parked: until when (``parked until 15:00 UTC (usage limit)``, scheduler/parking.py).

:func:`impossible` is the subset that no agent coming online or finishing work can change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import AgentStatus, TaskStatus
from orchestratia.protocol.labels import agent_label_set, missing
from orchestratia.hub.budgets import hold_reasons
from orchestratia.hub.scheduler.assignment import ACTIVE
from orchestratia.hub.scheduler.planner import runner_ok
from orchestratia.hub.scheduler.dependencies import dependency_reasons
from orchestratia.hub.scheduler.parking import parked_reason
from orchestratia.hub.store.models import Agent, Task, TaskGroup, utcnow
from orchestratia.hub.store.queries import repo_dir
from orchestratia.hub.views import agent_status

WAITING = (TaskStatus.QUEUED.value, TaskStatus.ASSIGNED.value, TaskStatus.PARKED.value)


@dataclass
class Fleet:
    """The agents a task could go to, as the store has them now."""

    agents: list[Agent]  # not revoked
    online: set[str]
    load: dict[str, int] = field(default_factory=dict)  # assigned + running (the scheduler's count)
    running: dict[str, int] = field(default_factory=dict)  # running only (the daemon's room)
    busy: dict[str, set[str]] = field(default_factory=dict)  # repo directories with a running task
    group_active: dict[str, int] = field(default_factory=dict)  # assigned + running per group
    group_limits: dict[str, int] = field(default_factory=dict)  # groups set NAME --max N
    #: (agent id, runner) parked by a usage limit -> the task parked there (scheduler/parking.py)
    parked: dict[tuple[str, str | None], Any] = field(default_factory=dict)
    now: datetime = field(default_factory=utcnow)

    @classmethod
    def of(cls, agents: Sequence[Agent], online: set[str], active: Iterable[tuple[Any, ...]],
           group_limits: dict[str, int] | None = None) -> Fleet:
        """``active``: ``(agent_id, status, target_repo[, group_name])`` of every assigned or
        running task."""
        live = [a for a in agents if a.revoked_at is None]
        by_id = {a.id: a for a in live}
        fleet = cls(live, online, {a.id: 0 for a in live}, {a.id: 0 for a in live}, {a.id: set() for a in live},
                    {}, dict(group_limits or {}))
        for agent_id, status, target, *rest in active:
            if rest and rest[0]:
                fleet.group_active[rest[0]] = fleet.group_active.get(rest[0], 0) + 1
            if agent_id not in by_id:
                continue
            fleet.load[agent_id] += 1
            if status == TaskStatus.RUNNING.value:
                fleet.running[agent_id] += 1
                if (directory := repo_dir(by_id[agent_id].repos, target)) is not None:
                    fleet.busy[agent_id].add(directory)
        return fleet


def _cap(agent: Agent) -> int:
    return agent.max_concurrent_tasks or 1


def labels_of(agent: Agent) -> frozenset[str]:
    return agent_label_set(getattr(agent, "labels", None), getattr(agent, "os", ""), agent.runners, agent.repos)


def has_labels(agent: Agent, task: Any) -> bool:
    wanted = getattr(task, "labels", None)
    return not wanted or not missing(wanted, labels_of(agent))


def _no_labels(task: Any, all_live: Sequence[Agent], fits: Sequence[Agent]) -> str | None:
    """Why no agent that has the task's repo and runner has its labels (None: one has)."""
    if not getattr(task, "labels", None) or any(has_labels(a, task) for a in fits):
        return None
    names = ",".join(task.labels)
    if not any(has_labels(a, task) for a in all_live):
        return f"no agent has labels {names}"
    where = " and ".join(w for w in (f"repo {task.target_repo}" if task.target_repo else "",
                                     f"runner {task.runner}" if task.runner else "") if w)
    return f"no agent with {where} has labels {names}"


def _group_reason(task: Any, fleet: Fleet) -> str | None:
    group = getattr(task, "group_name", None)
    limit = fleet.group_limits.get(group or "")
    if limit is None or fleet.group_active.get(group or "", 0) < limit:
        return None
    return f"group {group} at its limit ({fleet.group_active.get(group or '', 0)}/{limit})"


def impossible(task: Any, agents: Sequence[Agent]) -> str | None:
    """Why no registered agent could ever take ``task`` (None: some agent could)."""
    live = [a for a in agents if a.revoked_at is None]
    if task.agent_id:  # created for one agent: only it can take the task
        live = [a for a in live if a.id == task.agent_id]
        named = live[0].name if live else "its agent"
        if not live:
            return f"{named} was revoked"
        if task.target_repo and task.target_repo not in (live[0].repos or {}):
            return f"agent {named} has no repo {task.target_repo}"
        if not runner_ok(live[0], task.runner):
            return f"agent {named} has no runner {task.runner}"
        if lacking := missing(getattr(task, "labels", None), labels_of(live[0])):
            return f"agent {named} has no label {','.join(lacking)}"
        return None
    if not live:
        return "no agent is registered (orchestratia tokens create, then agent register on a server)"
    everyone = live
    if task.target_repo:
        live = [a for a in live if task.target_repo in (a.repos or {})]
        if not live:
            return f"no agent has repo {task.target_repo}"
    if task.runner and not any(runner_ok(a, task.runner) for a in live):
        where = f" with repo {task.target_repo}" if task.target_repo else ""
        return f"no agent{where} has runner {task.runner}"
    return _no_labels(task, everyone, [a for a in live if runner_ok(a, task.runner)])


def _assigned_reason(task: Any, agent: Agent | None, fleet: Fleet) -> str:
    if agent is None:
        return "its agent was revoked: the task goes back to the queue"
    if agent.id not in fleet.online:
        return f"agent {agent.name} offline"
    running, cap = fleet.running[agent.id], _cap(agent)
    if running >= cap:
        return f"agent {agent.name} at capacity ({running}/{cap})"
    directory = repo_dir(agent.repos, task.target_repo)
    if directory is not None and directory in fleet.busy[agent.id]:
        return f"agent {agent.name} is running another task in repo {task.target_repo}"
    if (parked := fleet.parked.get((agent.id, task.runner or None))) is not None:
        return f"agent {agent.name}: runner {task.runner or 'claude'} {parked_reason(parked, fleet.now)}"
    return f"waiting for agent {agent.name} to start it"


def _queued_reason(task: Any, fleet: Fleet) -> str:
    never = impossible(task, fleet.agents)
    if never is not None:
        return never
    fits = [a for a in fleet.agents if (not task.target_repo or task.target_repo in (a.repos or {}))
            and runner_ok(a, task.runner) and has_labels(a, task) and (not task.agent_id or a.id == task.agent_id)]
    online = [a for a in fits if a.id in fleet.online]
    if not online:
        if not fleet.online:
            return "no agent is online"
        if len(fits) == 1:
            return f"agent {fits[0].name} offline"
        if task.target_repo:
            return f"no online agent has repo {task.target_repo}"
        if getattr(task, "labels", None):
            return f"no online agent has labels {','.join(task.labels)}"
        return f"no online agent has runner {task.runner or 'claude'}"
    if (full := _group_reason(task, fleet)) is not None:
        return full
    room = [a for a in online if fleet.load[a.id] < _cap(a)]
    if not room:
        # load counts assigned tasks too: one created for an agent may pass its cap
        return "; ".join(f"agent {a.name} at capacity ({min(fleet.load[a.id], _cap(a))}/{_cap(a)})"
                         for a in online[:3])
    free = [a for a in room if (d := repo_dir(a.repos, task.target_repo)) is None or d not in fleet.busy[a.id]]
    if not free:
        names = ", ".join(a.name for a in room[:3])
        return f"agent {names} is running another task in repo {task.target_repo}"
    unparked = [a for a in free if (a.id, task.runner or None) not in fleet.parked]
    if not unparked:
        parked = fleet.parked[(free[0].id, task.runner or None)]
        return f"agent {free[0].name}: runner {task.runner or 'claude'} {parked_reason(parked, fleet.now)}"
    return "an agent has room: being assigned"


def queue_reason(task: Any, fleet: Fleet) -> str | None:
    """Why ``task`` has not started yet (None once it has, or has ended)."""
    if task.status == TaskStatus.PARKED.value:
        return parked_reason(task, fleet.now)
    if task.status == TaskStatus.QUEUED.value:
        return _queued_reason(task, fleet)
    if task.status == TaskStatus.ASSIGNED.value:
        agent = next((a for a in fleet.agents if a.id == task.agent_id), None)
        return _assigned_reason(task, agent, fleet)
    return None


async def load_fleet(session: AsyncSession, offline_after_s: float, contacted: Callable[[str], bool],
                     now: datetime | None = None) -> Fleet:
    """Two reads: the agents, then their assigned and running tasks. ``contacted(agent_id)``:
    contact the store does not hold yet (it is written behind) counts as online."""
    now = now or utcnow()
    agents = list((await session.execute(select(Agent).where(Agent.revoked_at.is_(None)))).scalars())
    online = {a.id for a in agents
              if contacted(a.id) or agent_status(a, offline_after_s, now) == AgentStatus.ONLINE}
    active = list(await session.execute(
        select(Task.agent_id, Task.status, Task.target_repo, Task.group_name).where(Task.status.in_(ACTIVE))
    ))
    limits = {name: cap for name, cap in await session.execute(select(TaskGroup.name, TaskGroup.max_active))}
    fleet = Fleet.of(sorted(agents, key=lambda a: a.name), online, active, limits)
    fleet.now = now
    if agents:
        parked = (await session.execute(select(Task).where(Task.status == TaskStatus.PARKED.value,
                                                           Task.parked_until > now))).scalars()
        fleet.parked = {(t.agent_id, t.runner or None): t for t in parked if t.agent_id}
    return fleet


async def reasons_for(session: AsyncSession, tasks: Sequence[Any], offline_after_s: float,
                      contacted: Callable[[str], bool]) -> dict[str, str]:
    """``queue_reason`` of each waiting task of ``tasks`` (no read at all when none waits)."""
    waiting = [t for t in tasks if t.status in WAITING]
    if not waiting:
        return {}
    # waiting for a parent ("waiting for task ab12cd34 (running)") comes before any other reason,
    # then a hold (a rerun's backoff, a reached budget), then the agents'
    reasons = await dependency_reasons(session, waiting)
    waiting = [t for t in waiting if t.id not in reasons]
    if not waiting:
        return reasons
    held = await hold_reasons(session, waiting, utcnow())
    fleet = await load_fleet(session, offline_after_s, contacted)
    return reasons | {t.id: reason for t in waiting if (reason := held.get(t.id) or queue_reason(t, fleet)) is not None}
