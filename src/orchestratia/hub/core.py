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

from orchestratia.hub.auth import LoginLimiter
from orchestratia.hub.events import EventBus, make_bus
from orchestratia.hub.settings import HubSettings
from orchestratia.hub.store.engine import Database
from orchestratia.hub.store.models import Agent, utcnow

log = logging.getLogger(__name__)


def tune_gc() -> None:
    """Keep full garbage collections rare. They walk every object and stop the event loop, and a
    hub holds a few hundred long-lived objects per connected agent (about 0.5 M for 1,500 agents):
    with the default thresholds a full collection came every few seconds and took 0.1–2 s.
    Freeze what start-up made, and let the young generation grow before collecting it."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)


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
        self._flusher: Any = None
        #: agent id → its live WebSocket connection (ws_agent.AgentConnection) in this process
        self.connections: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction; events collected with ``states.emit`` go out after the commit."""
        async with self.db.write() as session:
            yield session
            events = session.info.pop("events", [])
            kicks = session.info.pop("kick", set())
        for channel, message in events:
            try:
                await self.bus.publish(channel, message)
            except Exception:  # the store is the truth; a lost live event is re-read later
                log.exception("publishing on %s failed", channel)
        for agent_id in kicks:
            self.scheduler.kick(agent_id)

    def read(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        return self.db.read()

    #: how often contacts and heartbeats recorded in memory are written to the store
    contact_flush_s = 1.0

    async def touch(self, agent: Agent, **values: Any) -> None:
        """Record contact from ``agent`` (liveness), plus heartbeat ``values`` for its row.

        A request never waits on a write for this: the contact is kept in memory and written
        for all agents in one transaction every ``contact_flush_s`` (readers that need it fresh
        call :meth:`flush_contacts` first). An agent coming back ONLINE is written at once."""
        now = utcnow()
        was_online = self._online(agent.last_seen_at, now)
        pending = self._contacts.setdefault(agent.id, {})
        pending.update(values)
        pending["last_seen_at"] = now
        agent.last_seen_at = now
        self._start_flusher()
        if not was_online:
            await self.flush_contacts()
            await self.publish_safe("hub", {"kind": "agent", "id": agent.id, "status": "ONLINE"})
            self.scheduler.kick(agent.id)
            self.scheduler.kick(None)

    async def flush_contacts(self) -> None:
        """Write every pending contact in one transaction (an UPDATE per agent, executemany)."""
        if not self._contacts:
            return
        pending, self._contacts = self._contacts, {}
        rows = [{"id": agent_id, **values} for agent_id, values in pending.items()]
        try:
            async with self.write() as session:
                for keys in {tuple(sorted(r)) for r in rows}:  # executemany needs one key set
                    await session.execute(update(Agent), [r for r in rows if tuple(sorted(r)) == keys])
        except Exception:
            log.exception("writing %d agent contacts failed; retrying", len(rows))
            for agent_id, values in pending.items():
                self._contacts[agent_id] = {**values, **self._contacts.get(agent_id, {})}

    def _start_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop(), name="orchestratia-contacts")

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.contact_flush_s)
            await self.flush_contacts()

    def forget_touch(self, agent_id: str) -> None:
        """Kept for callers: contacts are no longer rate-limited per agent, nothing to forget."""

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
