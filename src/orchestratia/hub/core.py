"""The running hub: settings, store, bus, scheduler and liveness, shared by every route.

Built in the app's lifespan (``app.state.hub``), never at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
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
        self._last_touch: dict[str, float] = {}
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

    @property
    def touch_interval_s(self) -> float:
        return min(5.0, self.settings.offline_after_s / 4)

    async def touch(self, agent: Agent) -> None:
        """Record contact from ``agent`` (liveness). Writes at most every few seconds."""
        now_mono = time.monotonic()
        last = self._last_touch.get(agent.id)
        if last is not None and now_mono - last < self.touch_interval_s:
            return
        self._last_touch[agent.id] = now_mono
        now = utcnow()
        was_online = self._online(agent.last_seen_at, now)
        async with self.write() as session:
            await session.execute(update(Agent).where(Agent.id == agent.id).values(last_seen_at=now))
        agent.last_seen_at = now
        if not was_online:
            await self.publish_safe("hub", {"kind": "agent", "id": agent.id, "status": "ONLINE"})
            self.scheduler.kick(agent.id)
            self.scheduler.kick(None)

    def forget_touch(self, agent_id: str) -> None:
        self._last_touch.pop(agent_id, None)

    def _online(self, last_seen: datetime | None, now: datetime) -> bool:
        return last_seen is not None and (now - last_seen).total_seconds() <= self.settings.offline_after_s

    async def publish_safe(self, channel: str, message: dict) -> None:
        try:
            await self.bus.publish(channel, message)
        except Exception:
            log.exception("publishing on %s failed", channel)

    async def close(self) -> None:
        self.stopping.set()
        await self.scheduler.stop()
        await self.bus.close()
        await self.db.dispose()
