"""The store as the hub's code uses it: read transactions, and write transactions whose side
effects go out once committed.

Inside a write, code collects typed bus messages with ``states.emit`` (events) and
``states.push`` (hub → agent pushes) and scheduler kicks with ``states.kick``; :meth:`Store.write` publishes them only after the commit, so no reader ever
hears of a change it cannot read yet, and a rolled-back change is never announced.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from orchestratia.hub.events.bus import EventBus, Message
    from orchestratia.hub.metrics import HubMetrics
    from orchestratia.hub.store.engine import Database

#: ``(channel, message)`` pairs a transaction emitted
Events = list[tuple[str, "Message"]]


class Store:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        note_events: Callable[[Events], None],
        kick: Callable[[str | None], None],
        metrics: HubMetrics | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        #: sees a committed transaction's events before anything else can run (the assigned index)
        self._note_events = note_events
        #: wakes the scheduler (for an agent's room, or None: queued tasks)
        self._kick = kick
        #: counts what a committed transaction noted (durations, output bytes)
        self.metrics = metrics

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction; events collected with ``states.emit`` go out after the commit."""
        async with self.db.write() as session:
            yield session
            events = session.info.pop("events", [])
            kicks = session.info.pop("kick", set())
            notes = session.info.pop("metrics", [])
        self._note_events(events)  # committed: before anything else can run
        if self.metrics is not None:
            self.metrics.committed(notes)
        for channel, message in events:
            await self.bus.publish_safe(channel, message)  # the store is the truth
        for agent_id in kicks:
            self._kick(agent_id)

    def read(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        return self.db.read()
