"""Assignment, room, timeouts and liveness (issue 2, "Scheduling").

* A task created for an agent is ``assigned`` at once but handed to the daemon (poll / push)
  only when the agent has room: ``max_concurrent_tasks`` and one running task per repo
  directory (``queries.offerable_tasks``).
* A task created with no agent is ``queued``; it is assigned to an online agent that has its
  repo (and runner, when named) and room, least busy first.
* Running tasks past ``timeout_minutes`` get ``task_cancel`` and end ``timed_out``.
* Running tasks of an agent with no contact for ``lost_grace_s`` end ``lost``.
* ONLINE/OFFLINE is computed from ``last_seen_at``; changes are published on ``hub``.

The loop wakes on :meth:`Scheduler.kick` (task created or finished, agent contact) and every
``check_interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from orchestratia.protocol import AgentStatus, TaskStatus
from orchestratia.hub.states import emit, transition
from orchestratia.hub.store.models import AdminSession, Agent, Task, utcnow
from orchestratia.hub.store.queries import agents_with_assigned_tasks, offerable_tasks, repo_dir
from orchestratia.hub.views import agent_status, task_payload
from orchestratia.hub.shutdown import wait_set

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from orchestratia.hub.core import Hub

log = logging.getLogger(__name__)
ACTIVE = (TaskStatus.ASSIGNED.value, TaskStatus.RUNNING.value)
SESSION_PURGE_S = 600.0


def runner_ok(agent: Agent, runner: str | None) -> bool:
    if not runner:
        return True
    if agent.runners is None:  # an old daemon: it runs Claude Code only
        return runner == "claude"
    return runner in agent.runners


class Scheduler:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._pending: set[str | None] = set()
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._tick_lock = asyncio.Lock()
        self._known: dict[str, AgentStatus] = {}
        self._purged_at: datetime | None = None

    # ------------------------------------------------------------------ loop

    def kick(self, agent_id: str | None = None) -> None:
        """Re-run assignment soon (and hand ``agent_id`` the tasks it has room for)."""
        self._pending.add(agent_id)
        if self._wake is not None:
            self._wake.set()

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._loop_task = asyncio.create_task(self._loop(), name="orchestratia-scheduler")

    async def stop(self) -> None:
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        assert self._wake is not None
        interval = self.hub.settings.check_interval_s
        loop = asyncio.get_running_loop()
        last_periodic = loop.time()
        while True:
            await wait_set(self._wake, last_periodic + interval - loop.time())
            self._wake.clear()
            # steady kicks (many agents heartbeating) must not starve the periodic checks
            periodic = loop.time() - last_periodic >= interval
            if periodic:
                last_periodic = loop.time()
            pending, self._pending = self._pending, set()
            try:
                await self.tick(pending, periodic=periodic)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler tick failed; retrying at the next one")

    async def tick(
        self, agents: set[str | None] | None = None, *, periodic: bool = True, now: datetime | None = None
    ) -> None:
        """One pass: (periodic checks), queued assignment, then pushes to agents with room.

        One pass at a time in a process: a pass started while the loop's is under way waits for
        it, then reads what it committed (on PostgreSQL the two would otherwise meet in
        ``SKIP LOCKED``: the second skips the tasks the first holds, and neither assigns one
        to an agent whose contact the first read too early to see)."""
        async with self._tick_lock:
            await self._tick(agents, periodic=periodic, now=now)

    async def _tick(self, agents: set[str | None] | None, *, periodic: bool, now: datetime | None) -> None:
        now = now or utcnow()
        if periodic:
            await self.hub.flush_contacts()  # liveness decisions read last_seen_at
            await self.check_timeouts(now)
            await self.check_lost(now)
            await self.check_liveness(now)
            await self.purge_sessions(now)
        touched = await self.assign_queued(now)
        wanted = [a for a in (set(agents or ()) | touched) if a is not None and self.hub.assigned.may_have(a)]
        for agent_id in await self.with_assigned_tasks(wanted):
            await self.dispatch(agent_id)

    # ------------------------------------------------------------------ assignment

    async def with_assigned_tasks(self, agent_ids: list[str], chunk: int = 500) -> list[str]:
        """Those of ``agent_ids`` that have an assigned task: after a thousand agents reconnect,
        a few queries find the ones with anything to push, instead of one pass each."""
        found: set[str] = set()
        async with self.hub.read() as session:
            for i in range(0, len(agent_ids), chunk):
                found |= await agents_with_assigned_tasks(session, agent_ids[i : i + chunk])
        return [a for a in agent_ids if a in found]

    async def dispatch(self, agent_id: str) -> None:
        """Push ``task_assigned`` for every task the agent has room to start now."""
        async with self.hub.read() as session:
            agent = await session.get(Agent, agent_id)
            if agent is None or agent.revoked_at is not None:
                return
            tasks = await offerable_tasks(session, agent)
        for task in tasks:
            await self.hub.publish_safe(f"agent:{agent_id}", {"type": "task_assigned", "task": task_payload(task)})

    async def assign_queued(self, now: datetime) -> set[str]:
        """Assign queued tasks to eligible online agents, least busy first."""
        async with self.hub.read() as session:
            has_queued = (
                await session.execute(select(Task.id).where(Task.status == TaskStatus.QUEUED.value).limit(1))
            ).first()
        if has_queued is None:
            return set()
        touched: set[str] = set()
        async with self.hub.write() as session:
            queued = (
                await session.execute(
                    select(Task)
                    .where(Task.status == TaskStatus.QUEUED.value)
                    .order_by(Task.created_at)
                    .limit(500)
                    .with_for_update(skip_locked=True)  # replicas never assign one task twice
                )
            ).scalars().all()
            agents, load, busy = await self._capacity(session, now)
            for task in queued:
                agent = self._choose(task, agents, load, busy)
                if agent is None:
                    continue
                await transition(session, task, TaskStatus.ASSIGNED, now=now, agent_id=agent.id)
                load[agent.id] += 1
                if (directory := repo_dir(agent.repos, task.target_repo)) is not None:
                    busy[agent.id].add(directory)
                touched.add(agent.id)
        return touched

    async def _capacity(
        self, session, now: datetime  # type: ignore[no-untyped-def]
    ) -> tuple[list[Agent], dict[str, int], dict[str, set[str]]]:
        cutoff = now - timedelta(seconds=self.hub.settings.offline_after_s)
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
                select(Task.agent_id, Task.target_repo).where(Task.agent_id.in_(list(by_id)), Task.status.in_(ACTIVE))
            )
            for agent_id, target in rows:
                load[agent_id] += 1
                if (directory := repo_dir(by_id[agent_id].repos, target)) is not None:
                    busy[agent_id].add(directory)
        return agents, load, busy

    @staticmethod
    def _choose(task: Task, agents: list[Agent], load: dict[str, int], busy: dict[str, set[str]]) -> Agent | None:
        best: Agent | None = None
        for agent in agents:
            if task.target_repo and task.target_repo not in (agent.repos or {}):
                continue
            if not runner_ok(agent, task.runner) or load[agent.id] >= (agent.max_concurrent_tasks or 1):
                continue
            directory = repo_dir(agent.repos, task.target_repo)
            if directory is not None and directory in busy[agent.id]:
                continue
            if best is None or load[agent.id] < load[best.id]:
                best = agent
        return best

    # ------------------------------------------------------------------ periodic checks

    async def check_timeouts(self, now: datetime) -> int:
        """End running tasks past their ``timeout_minutes`` as ``timed_out``."""
        async with self.hub.read() as session:
            rows = (
                await session.execute(
                    select(Task.id, Task.started_at, Task.timeout_minutes).where(
                        Task.status == TaskStatus.RUNNING.value, Task.timeout_minutes.is_not(None)
                    )
                )
            ).all()
        due = [r[0] for r in rows if r[1] is not None and r[1] + timedelta(minutes=r[2]) <= now]
        for task_id in due:
            async with self.hub.write() as session:
                task = await session.get(Task, task_id, with_for_update=True)
                if task is None or task.status != TaskStatus.RUNNING.value:
                    continue
                reason = f"timed out after {task.timeout_minutes:g} minutes"
                await transition(session, task, TaskStatus.TIMED_OUT, now=now, error=reason, cancel_reason=reason)
                if task.agent_id:
                    emit(session, f"agent:{task.agent_id}", {"type": "task_cancel", "task_id": task.id, "reason": reason})
        return len(due)

    async def check_lost(self, now: datetime) -> int:
        """End running tasks of agents with no contact for ``lost_grace_s`` as ``lost``."""
        grace = self.hub.settings.lost_grace_s
        cutoff = now - timedelta(seconds=grace)
        async with self.hub.read() as session:
            rows = (
                await session.execute(
                    select(Task.id, Task.agent_id)
                    .join(Agent, Agent.id == Task.agent_id)
                    .where(
                        Task.status == TaskStatus.RUNNING.value,
                        (Agent.last_seen_at < cutoff) | Agent.last_seen_at.is_(None),
                    )
                )
            ).all()
        lost = 0
        for task_id, agent_id in rows:
            if self.hub.has_unwritten_contact(agent_id):  # the common case: no write needed
                continue
            async with self.hub.write() as session:
                task = await session.get(Task, task_id, with_for_update=True)
                if task is None or task.status != TaskStatus.RUNNING.value:
                    continue
                if await self._had_contact_since(session, agent_id, cutoff):
                    continue
                error = f"agent had no contact with the hub for more than {grace:g} s"
                await transition(session, task, TaskStatus.LOST, now=now, error=error)
                lost += 1
        return lost

    async def _had_contact_since(self, session: AsyncSession, agent_id: str, cutoff: datetime) -> bool:
        """Whether the agent made contact after ``cutoff``, checked again just before a task is
        ended ``lost``: the read that found it may predate a contact that is still in memory,
        being written, or (committed since) in the store. In that order: a contact leaves
        memory only once it is committed, so one of the three always sees it."""
        if self.hub.has_unwritten_contact(agent_id):
            return True
        seen = select(Agent.id).where(Agent.id == agent_id, Agent.last_seen_at >= cutoff)
        return (await session.execute(seen)).first() is not None

    async def purge_sessions(self, now: datetime) -> None:
        """Delete expired admin sessions (at most every ``SESSION_PURGE_S``)."""
        if self._purged_at is not None and (now - self._purged_at).total_seconds() < SESSION_PURGE_S:
            return
        self._purged_at = now
        async with self.hub.write() as session:
            await session.execute(delete(AdminSession).where(AdminSession.expires_at < now))

    async def check_liveness(self, now: datetime, chunk: int = 1000) -> None:
        """Publish ONLINE/OFFLINE changes computed from ``last_seen_at``.

        With thousands of agents this runs every few seconds, so the store compares the
        timestamps (no datetime parsed per agent) and the loop yields every ``chunk`` agents:
        requests are served in between instead of waiting for the whole fleet."""
        cutoff = now - timedelta(seconds=self.hub.settings.offline_after_s)
        query = select(
            Agent.id, (Agent.last_seen_at >= cutoff).label("online"), Agent.revoked_at.is_not(None).label("revoked"),
            Agent.api_key_hash,
        )
        async with self.hub.read() as session:
            agents = (await session.execute(query)).all()
        # keys rotated or revoked by another hub process stop working here too
        self.hub.agent_keys.retain_valid((a.id, a.api_key_hash, a.revoked) for a in agents)
        for i, agent in enumerate(agents):
            if i % chunk == chunk - 1:
                await asyncio.sleep(0)
            status = AgentStatus.REVOKED if agent.revoked else AgentStatus.ONLINE if agent.online else AgentStatus.OFFLINE
            previous = self._known.get(agent.id)
            self._known[agent.id] = status
            if previous is not None and previous != status:
                if status != AgentStatus.ONLINE:
                    self.hub.forget_touch(agent.id)
                await self.hub.publish_safe("hub", {"kind": "agent", "id": agent.id, "status": status.value})
