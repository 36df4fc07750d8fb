"""The scheduler's loop: one pass at a time, woken by kicks and every ``check_interval_s``.

* A task created for an agent is ``assigned`` at once but handed to the daemon (poll / push)
  only when the agent has room: ``max_concurrent_tasks`` and one running task per repo
  directory (``queries.offerable_tasks``).
* A task created with no agent is ``queued``; it is assigned to an online agent that has its
  repo (and runner, when named) and room, least busy first (``assignment.py``).
* A task waiting for others (``--after``, a pipeline's ``needs``) is released or cancelled
  first in each pass (``dependencies.py``), never assigned while it waits.
* Running tasks past ``timeout_minutes`` get ``task_cancel`` and end ``timed_out``
  (``timeouts.py``).
* Running tasks of an agent with no contact for ``lost_grace_s`` end ``lost``, and ONLINE/OFFLINE
  changes are published on ``hub`` (both in ``hub/liveness.py``, run by the periodic pass).

The loop wakes on :meth:`Kicks.kick` (task created or finished, agent contact) and every
``check_interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from orchestratia.protocol import WsTaskAssigned
from orchestratia.protocol.pushes import agent_channel
from orchestratia.protocol.shared import wait_set
from orchestratia.hub.liveness import Liveness
from orchestratia.hub.scheduler.assigned_index import AssignedIndex
from orchestratia.hub.scheduler.assignment import assign_queued
from orchestratia.hub.scheduler.parking import resume_due
from orchestratia.hub.scheduler.dependencies import settle
from orchestratia.hub.scheduler.timeouts import check_timeouts, purge_sessions
from orchestratia.hub.settings import HubSettings
from orchestratia.hub.store.models import Agent, utcnow
from orchestratia.hub.store.queries import agents_with_assigned_tasks, offerable_tasks
from orchestratia.hub.store.transactions import Store
from orchestratia.hub.views import task_payload

log = logging.getLogger(__name__)
SESSION_PURGE_S = 600.0
#: up to this many kicked agents are dispatched to directly, without first asking the store
#: which of them have an assigned task (see ``_tick``)
DIRECT_DISPATCH_MAX = 4


def _raise_if_cancelled() -> None:
    """Re-raise a cancel that a store driver swallowed during a pass (seen on PostgreSQL at
    shutdown: the pass ended with an error instead, the loop went round and waited
    ``check_interval_s`` while the hub's stop waited for it)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Kicks:
    """Agents (or None: queued tasks) the scheduler should look at soon. Its own object, so the
    parts that kick (write transactions, liveness) need not know the scheduler."""

    def __init__(self) -> None:
        self.pending: set[str | None] = set()
        self.wake: asyncio.Event | None = None  # made when the loop starts

    def kick(self, agent_id: str | None = None) -> None:
        """Re-run assignment soon (and hand ``agent_id`` the tasks it has room for)."""
        self.pending.add(agent_id)
        if self.wake is not None:
            self.wake.set()

    def take(self) -> set[str | None]:
        pending, self.pending = self.pending, set()
        return pending


class Scheduler:
    def __init__(
        self, settings: HubSettings, store: Store, liveness: Liveness, assigned: AssignedIndex, kicks: Kicks
    ) -> None:
        self.settings = settings
        self.store = store
        self.liveness = liveness
        self.assigned = assigned
        self.kicks = kicks
        self._loop_task: asyncio.Task[None] | None = None
        self._tick_lock = asyncio.Lock()
        self._purged_at: datetime | None = None

    # ------------------------------------------------------------------ loop

    def kick(self, agent_id: str | None = None) -> None:
        """Re-run assignment soon (and hand ``agent_id`` the tasks it has room for)."""
        self.kicks.kick(agent_id)

    async def start(self) -> None:
        self.kicks.wake = asyncio.Event()
        self._loop_task = asyncio.create_task(self._loop(), name="orchestratia-scheduler")

    async def stop(self) -> None:
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        wake = self.kicks.wake
        assert wake is not None
        interval = self.settings.check_interval_s
        loop = asyncio.get_running_loop()
        last_periodic = loop.time()
        while True:
            await wait_set(wake, last_periodic + interval - loop.time())
            wake.clear()
            # steady kicks (many agents heartbeating) must not starve the periodic checks
            periodic = loop.time() - last_periodic >= interval
            if periodic:
                last_periodic = loop.time()
            pending = self.kicks.take()
            try:
                await self.tick(pending, periodic=periodic)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler tick failed; retrying at the next one")
            _raise_if_cancelled()

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
            await self.liveness.flush_contacts()  # liveness decisions read last_seen_at
            await check_timeouts(self.store, now, self.settings)
            await self.liveness.check_lost(now)
            await self.liveness.check_liveness(now)
            await self._purge_sessions(now)
        await settle(self.store, now)  # tasks whose parents ended: released or cancelled
        # parked tasks whose usage limit has reset go back to their agents first: ahead of the queue
        resumed = await resume_due(self.store, now) if periodic else set()
        touched = resumed | await assign_queued(self.store, self.settings, now)
        wanted = [a for a in (set(agents or ()) | touched) if a is not None and self.assigned.may_have(a, fresh=True)]
        # the pre-filter pays off for a crowd (a reconnect storm); for the usual kick (a task just
        # created for one agent) it was one more read transaction on the push path, and dispatch
        # finds nothing to push for an agent without an assigned task anyway
        few = len(wanted) <= DIRECT_DISPATCH_MAX
        for agent_id in wanted if few else await self.with_assigned_tasks(wanted):
            await self.dispatch(agent_id)

    # ------------------------------------------------------------------ pushes

    async def with_assigned_tasks(self, agent_ids: list[str], chunk: int = 500) -> list[str]:
        """Those of ``agent_ids`` that have an assigned task: after a thousand agents reconnect,
        a few queries find the ones with anything to push, instead of one pass each."""
        found: set[str] = set()
        async with self.store.read() as session:
            for i in range(0, len(agent_ids), chunk):
                found |= await agents_with_assigned_tasks(session, agent_ids[i : i + chunk])
        return [a for a in agent_ids if a in found]

    async def dispatch(self, agent_id: str) -> None:
        """Push ``task_assigned`` for every task the agent has room to start now. A read that
        finds no assigned task un-notes the agent in the index, as a poll does, so that the
        next kick (its task ending) skips it without a read."""
        epoch = self.assigned.epoch
        async with self.store.read() as session:
            agent = await session.get(Agent, agent_id)
            if agent is None or agent.revoked_at is not None:
                return
            tasks, has_assigned = await offerable_tasks(session, agent, with_flag=True)
        if not has_assigned:
            self.assigned.found_none(agent_id, epoch)
        for task in tasks:
            await self.store.bus.publish_safe(agent_channel(agent_id), WsTaskAssigned(task=task_payload(task)))

    async def _purge_sessions(self, now: datetime) -> None:
        """Expired admin sessions, deleted at most every ``SESSION_PURGE_S``."""
        if self._purged_at is not None and (now - self._purged_at).total_seconds() < SESSION_PURGE_S:
            return
        self._purged_at = now
        await purge_sessions(self.store, now)
