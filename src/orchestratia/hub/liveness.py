"""The running hub: settings, store, bus, scheduler and liveness, shared by every route.

Built in the app's lifespan (``app.state.hub``), never at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.hub.agent_keys import AgentKeys
from orchestratia.hub.assigned_index import AssignedIndex
from orchestratia.hub.auth import LoginLimiter
from orchestratia.hub.events import EventBus, make_bus
from orchestratia.hub.settings import HubSettings
from orchestratia.hub.store.engine import Database
from orchestratia.hub.store.models import Agent, utcnow
from orchestratia.hub.shutdown import wait_set

log = logging.getLogger(__name__)


def tune_gc() -> None:
    """Keep garbage-collection pauses short. Every collection stops the event loop, and a hub
    holds a few hundred long-lived objects per connected agent (about 1.5 M at 5,000 agents).
    Freeze what start-up made; collect the young generation every 10,000 net allocations and
    the middle one every 10 of those, so neither ever walks more than ~100,000 objects (the
    middle generation at 20 × 50,000 took 0.5–0.75 s after 5,000 agents connected); full
    collections stay rare (CPython also waits until the long-lived objects grew by 25 %)."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 50)


class Hub:
    def __init__(self, settings: HubSettings, bus: EventBus | None = None) -> None:
        from orchestratia.hub.scheduler import Scheduler

        self.settings = settings
        self.db = Database(settings.effective_database_url(), settings.database_schema)
        self.bus = bus or make_bus(settings.redis_url)
        self.limiter = LoginLimiter(settings.login_failures_per_minute)
        self.scheduler = Scheduler(self)
        self.bootstrap_password: str | None = None
        #: set when the server is asked to stop: long-lived streams end
        self.stopping = asyncio.Event()
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
        self.agent_keys = AgentKeys()
        #: agents that may have an assigned task (a poll from another answers [] at once)
        self.assigned = AssignedIndex()
        #: agent id → its live WebSocket connection (ws_agent.AgentConnection) in this process
        self.connections: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction; events collected with ``states.emit`` go out after the commit."""
        async with self.db.write() as session:
            yield session
            events = session.info.pop("events", [])
            kicks = session.info.pop("kick", set())
        self.assigned.note_events(events)  # committed: before anything else can run
        for channel, message in events:
            try:
                await self.bus.publish(channel, message)
            except Exception:  # the store is the truth; a lost live event is re-read later
                log.exception("publishing on %s failed", channel)
        for agent_id in kicks:
            self.scheduler.kick(agent_id)

    def read(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        return self.db.read()

    async def start_assigned_index(self) -> None:
        """Trust the assigned-task index only where this process sees every assignment."""
        if self.db.is_sqlite:
            async with self.read() as session:
                await self.assigned.load(session)

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
            await self.publish_safe("hub", {"kind": "agent", "id": agent_id, "status": "ONLINE"})
            self.scheduler.kick(agent_id)
        if online:
            self.scheduler.kick(None)

    def _keep_unwritten(self, pending: dict[str, dict[str, Any]], online: set[str]) -> None:
        """Put contacts a flush could not (or may not) have written back for the next one; a
        contact made since wins, and writing one twice is harmless."""
        for agent_id, values in pending.items():
            self._contacts[agent_id] = {**values, **self._contacts.get(agent_id, {})}
        self._came_online |= online

    async def _write_contacts(self, rows: list[dict[str, Any]]) -> None:
        async with self.write() as session:
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

    def forget_touch(self, agent_id: str) -> None:
        """The agent's key was rotated or revoked, or it went offline: the next request
        looks the agent up in the store again."""
        self.agent_keys.forget_agent(agent_id)

    def _online(self, last_seen: datetime | None, now: datetime) -> bool:
        return last_seen is not None and (now - last_seen).total_seconds() <= self.settings.offline_after_s

    async def publish_safe(self, channel: str, message: dict) -> None:
        try:
            await self.bus.publish(channel, message)
        except Exception:
            log.exception("publishing on %s failed", channel)

    async def close(self) -> None:
        self.stopping.set()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._flusher
        with contextlib.suppress(Exception):
            await self.flush_contacts()
        await self.scheduler.stop()
        await self.bus.close()
        await self.db.dispose()
