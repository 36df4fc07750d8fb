"""Liveness, in one place: agent contact, ONLINE / OFFLINE, ``lost`` tasks and the API key cache.

* **Contacts, written behind.** Every authenticated agent request or WebSocket message is
  contact (:meth:`Liveness.touch`). It is kept in memory and written for all agents in one
  transaction every ``contact_flush_s`` (:meth:`Liveness.flush_contacts`); readers that need
  it fresh (the admin agent list, the scheduler's periodic pass) flush first.
* **ONLINE / OFFLINE** is computed from ``last_seen_at`` (``offline_after_s``); an agent
  coming back ONLINE is announced after its contact is stored, changes found by the periodic
  check (:meth:`Liveness.check_liveness`) are published on ``hub``.
* **Lost**: running tasks of an agent with no contact for ``lost_grace_s`` end ``lost``
  (:meth:`Liveness.check_lost`).
* **API keys**: ``SHA-256(key) → agent`` kept in memory (:class:`AgentKeys`), so an agent
  request does not query the store to say who it is; the periodic liveness check also drops
  the keys rotated or revoked by another hub process.

API keys. Every agent request (heartbeat, poll, a WebSocket connect) starts by mapping its ``X-API-Key``
to an agent. With thousands of agents that one query was the largest single cost of a
heartbeat (see docs/performance.md), so the hub keeps the answer: ``SHA-256(key) → Agent``
(a detached row; the hub updates its ``last_seen_at`` in memory on every contact).

An entry stops being trusted when the key stops being valid:

* at once in the process that revoked the agent or re-registered it (a new key), through
  :meth:`AgentKeys.forget_agent`;
* in every other hub process (replicas behind a load balancer) at the next liveness check
  (``check_interval_s``, 5 s by default): it reads each agent's key hash and revocation, and
  :meth:`AgentKeys.retain_valid` drops entries whose key was rotated or revoked.

Unknown keys are not cached (each costs a query, as before).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import AgentStatus, TaskStatus
from orchestratia.protocol.events import AgentEvent
from orchestratia.protocol.shared import wait_set
from orchestratia.hub.settings import HubSettings
from orchestratia.hub.attempts import end_run
from orchestratia.hub.retries import MAX_REQUEUES
from orchestratia.hub.store.models import Agent, Task, utcnow
from orchestratia.hub.store.transactions import Store

log = logging.getLogger(__name__)


class AgentKeys:
    """``key hash → agent`` for live agents, at most ``max_entries`` (oldest dropped first)."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._by_hash: dict[str, Any] = {}
        self._hash_of: dict[str, str] = {}  # agent id → its cached key hash
        #: bumped by every forget: a lookup that began before one does not cache its (maybe
        #: revoked) row, see :meth:`put`
        self.epoch = 0

    def __len__(self) -> int:
        return len(self._by_hash)

    def get(self, key_hash: str) -> Any | None:
        return self._by_hash.get(key_hash)

    def put(self, key_hash: str, agent: Any, epoch: int | None = None) -> None:
        """Cache ``agent`` for ``key_hash``; not if revoked, nor if something was forgotten since
        ``epoch`` (the value of :attr:`epoch` when the caller began reading the store)."""
        if agent.revoked_at is not None or (epoch is not None and epoch != self.epoch):
            return
        old = self._hash_of.get(agent.id)
        if old is not None and old != key_hash:
            self._by_hash.pop(old, None)
        if len(self._by_hash) >= self.max_entries and key_hash not in self._by_hash:
            oldest = next(iter(self._by_hash))
            self._hash_of.pop(self._by_hash.pop(oldest).id, None)
        self._by_hash[key_hash] = agent
        self._hash_of[agent.id] = key_hash

    def forget_agent(self, agent_id: str) -> None:
        self.epoch += 1
        key_hash = self._hash_of.pop(agent_id, None)
        if key_hash is not None:
            self._by_hash.pop(key_hash, None)

    def retain_valid(self, rows: Iterable[tuple[str, str | None, Any]]) -> int:
        """Drop entries whose agent's key changed, was revoked, or is gone, given every agent's
        ``(id, api_key_hash, revoked)`` as the store has them (``revoked``: truthy when revoked,
        e.g. its ``revoked_at``). Returns how many were dropped."""
        valid = {agent_id: key_hash for agent_id, key_hash, revoked in rows if not revoked}
        stale = [agent_id for agent_id, key_hash in self._hash_of.items() if valid.get(agent_id) != key_hash]
        for agent_id in stale:
            self.forget_agent(agent_id)
        self.epoch += 1  # a row read before this check may be older than it: not cached
        return len(stale)


class Liveness:
    """Contacts written behind, ONLINE / OFFLINE changes, ``lost`` checks, the key cache."""

    def __init__(self, settings: HubSettings, store: Store, kick: Callable[[str | None], None]) -> None:
        self.settings = settings
        self.store = store
        self._kick = kick  # the scheduler's: agents that came ONLINE get their tasks
        #: write-behind liveness: agent id -> column values (last_seen_at, heartbeat data) not
        #: yet in the store; flushed for all agents in one transaction (see flush_contacts)
        self._contacts: dict[str, dict[str, Any]] = {}
        #: agents whose contact made them ONLINE again: announced after their contact is stored
        self._came_online: set[str] = set()
        self._writing: dict[str, dict[str, Any]] = {}  # the contacts a flush is writing now
        self._flush_soon = asyncio.Event()
        self._flush_lock = asyncio.Lock()  # a reader's flush waits for one under way
        self._flusher: Any = None
        #: API key hash → agent, so agent requests need no store query to authenticate
        self.keys = AgentKeys()
        #: each agent's status at the last liveness check (changes are published)
        self._known: dict[str, AgentStatus] = {}

    # ------------------------------------------------------------------ contacts

    #: how often contacts and heartbeats recorded in memory are written to the store
    contact_flush_s = 1.0

    async def touch(self, agent: Agent, **values: Any) -> None:
        """Record contact from ``agent`` (liveness), plus heartbeat ``values`` for its row.

        A request never waits on a write for this: the contact is kept in memory and written
        for all agents in one transaction every ``contact_flush_s`` (readers that need it fresh
        call :meth:`flush_contacts` first). An agent coming back ONLINE wakes the writer at
        once; the ONLINE event and the scheduler's pass for it follow that write, so a
        thousand agents reconnecting together cost a few transactions, not a thousand."""
        now = utcnow()
        was_online = self._online(agent.last_seen_at, now)
        pending = self._contacts.setdefault(agent.id, {})
        pending.update(values)
        pending["last_seen_at"] = now
        agent.last_seen_at = now
        self._start_flusher()
        if not was_online:
            self._came_online.add(agent.id)
            self._flush_soon.set()

    async def flush_contacts(self) -> None:
        """Write every pending contact in one transaction (an UPDATE per agent, executemany),
        then announce the agents that came ONLINE. Returns once every contact made before the
        call is in the store (also those a flush already under way is writing)."""
        async with self._flush_lock:
            await self._flush_contacts()

    async def _flush_contacts(self) -> None:
        if not self._contacts:
            return
        pending, self._contacts = self._contacts, {}
        online, self._came_online = self._came_online, set()
        rows = [{"id": agent_id, **values} for agent_id, values in pending.items()]
        self._writing = pending
        try:
            try:
                await self._write_contacts(rows)
            except Exception:
                log.exception("writing %d agent contacts failed; writing them one by one", len(rows))
                if not await self._write_contacts_singly(rows):  # the store itself is failing
                    self._keep_unwritten(pending, online)
                    return
        except asyncio.CancelledError:  # stopped mid-write (shutdown): the next flush writes them
            self._keep_unwritten(pending, online)
            raise
        finally:
            self._writing = {}
        for agent_id in online:
            event = AgentEvent(id=agent_id, status=AgentStatus.ONLINE)
            await self.store.bus.publish_safe(event.channel, event)
            self._kick(agent_id)
        if online:
            self._kick(None)

    def _keep_unwritten(self, pending: dict[str, dict[str, Any]], online: set[str]) -> None:
        """Put contacts a flush could not (or may not) have written back for the next one; a
        contact made since wins, and writing one twice is harmless."""
        for agent_id, values in pending.items():
            self._contacts[agent_id] = {**values, **self._contacts.get(agent_id, {})}
        self._came_online |= online

    async def _write_contacts(self, rows: list[dict[str, Any]]) -> None:
        async with self.store.write() as session:
            for keys in {tuple(sorted(r)) for r in rows}:  # executemany needs one key set
                await session.execute(update(Agent), [r for r in rows if tuple(sorted(r)) == keys])

    async def _write_contacts_singly(self, rows: list[dict[str, Any]]) -> bool:
        """After a batch failed: each agent's row alone, and a row the store refuses again with
        its ``last_seen_at`` only (its heartbeat data is dropped, never every agent's liveness).
        False when even that fails (the store is down: the caller keeps the rows for later)."""
        written = 0
        for row in rows:
            for attempt in (row, {"id": row["id"], "last_seen_at": row["last_seen_at"]}):
                try:
                    await self._write_contacts([attempt])
                except Exception as exc:  # noqa: BLE001 - the next attempt or agent goes on
                    log.warning("agent %s: its contact could not be written (%s)", row["id"], exc)
                    continue
                written += 1
                break
        return written > 0 or not rows

    def _start_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop(), name="orchestratia-contacts")

    async def _flush_loop(self) -> None:
        while True:
            await wait_set(self._flush_soon, self.contact_flush_s)
            self._flush_soon.clear()
            await self.flush_contacts()

    def has_unwritten_contact(self, agent_id: str) -> bool:
        """Whether ``agent_id`` made contact that is not in the store yet."""
        return agent_id in self._contacts or agent_id in self._writing

    def forget(self, agent_id: str) -> None:
        """The agent's key was rotated or revoked, or it went offline: the next request
        looks the agent up in the store again."""
        self.keys.forget_agent(agent_id)

    def _online(self, last_seen: datetime | None, now: datetime) -> bool:
        return last_seen is not None and (now - last_seen).total_seconds() <= self.settings.offline_after_s

    # ------------------------------------------------------------------ periodic checks

    async def check_lost(self, now: datetime) -> int:
        """End running tasks of agents with no contact for ``lost_grace_s`` as ``lost``, or
        re-queue them (cause ``agent_lost``: automatic, at most twice; so are tasks assigned to
        such an agent and not started)."""
        grace = self.settings.lost_grace_s
        cutoff = now - timedelta(seconds=grace)
        async with self.store.read() as session:
            rows = (
                await session.execute(
                    select(Task.id, Task.agent_id)
                    .join(Agent, Agent.id == Task.agent_id)
                    .where(
                        # a task assigned to it and not started goes back to the queue too,
                        # unless it was created for that agent (then it waits for it)
                        (Task.status == TaskStatus.RUNNING.value)
                        | ((Task.status == TaskStatus.ASSIGNED.value) & Task.requested_agent_id.is_(None)),
                        (Agent.last_seen_at < cutoff) | Agent.last_seen_at.is_(None),
                    )
                )
            ).all()
        lost = 0
        for task_id, agent_id in rows:
            if self.has_unwritten_contact(agent_id):  # the common case: no write needed
                continue
            async with self.store.write() as session:
                task = await session.get(Task, task_id, with_for_update=True)
                if task is None or task.status not in (TaskStatus.RUNNING.value, TaskStatus.ASSIGNED.value):
                    continue
                if task.status == TaskStatus.ASSIGNED.value and (task.requeues or 0) >= MAX_REQUEUES:
                    continue  # not started: it stays with its agent once re-queued twice
                if await self._had_contact_since(session, agent_id, cutoff):
                    continue
                error = f"agent had no contact with the hub for more than {grace:g} s"
                # agent_lost: a task it had not started is re-queued at once (at most twice); a
                # running one ends lost, rerun only if its retry_on names agent_lost (retries.py)
                await end_run(session, task, TaskStatus.LOST, "agent_lost", settings=self.settings, now=now,
                              error=error)
                lost += 1
        return lost

    async def _had_contact_since(self, session: AsyncSession, agent_id: str, cutoff: datetime) -> bool:
        """Whether the agent made contact after ``cutoff``, checked again just before a task is
        ended ``lost``: the read that found it may predate a contact that is still in memory,
        being written, or (committed since) in the store. In that order: a contact leaves
        memory only once it is committed, so one of the three always sees it."""
        if self.has_unwritten_contact(agent_id):
            return True
        seen = select(Agent.id).where(Agent.id == agent_id, Agent.last_seen_at >= cutoff)
        return (await session.execute(seen)).first() is not None

    async def check_liveness(self, now: datetime, chunk: int = 1000) -> None:
        """Publish ONLINE/OFFLINE changes computed from ``last_seen_at``.

        With thousands of agents this runs every few seconds, so the store compares the
        timestamps (no datetime parsed per agent) and the loop yields every ``chunk`` agents:
        requests are served in between instead of waiting for the whole fleet."""
        cutoff = now - timedelta(seconds=self.settings.offline_after_s)
        query = select(
            Agent.id, (Agent.last_seen_at >= cutoff).label("online"), Agent.revoked_at.is_not(None).label("revoked"),
            Agent.api_key_hash,
        )
        async with self.store.read() as session:
            agents = (await session.execute(query)).all()
        # keys rotated or revoked by another hub process stop working here too
        self.keys.retain_valid((a.id, a.api_key_hash, a.revoked) for a in agents)
        for i, agent in enumerate(agents):
            if i % chunk == chunk - 1:
                await asyncio.sleep(0)
            status = AgentStatus.REVOKED if agent.revoked else AgentStatus.ONLINE if agent.online else AgentStatus.OFFLINE
            previous = self._known.get(agent.id)
            self._known[agent.id] = status
            if previous is not None and previous != status:
                if status != AgentStatus.ONLINE:
                    self.forget(agent.id)
                event = AgentEvent(id=agent.id, status=status)
                await self.store.bus.publish_safe(event.channel, event)

    async def stop(self) -> None:
        """Stop the writer, then write the contacts still in memory (also those it was writing)."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._flusher
        with contextlib.suppress(Exception):
            await self.flush_contacts()
