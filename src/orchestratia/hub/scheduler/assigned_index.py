"""Which agents may have an assigned task, so a poll with nothing for its agent needs no store read.

A deployed v1 daemon polls every 10 s whether or not it has work; with thousands of agents
almost every poll answers ``[]``, and reading the store for it was the largest cost of one
hub process serving such a fleet (docs/performance.md). The hub notes every agent that gets an
``assigned`` task (every assignment publishes a task event after its commit, see
``Store.write``); a poll from an agent not noted answers ``[]`` at once, and a poll that read the
store and found no assigned task un-notes its agent.

Only a hub that sees every assignment may trust this: one hub process on SQLite (SQLite means
one process, docs/hub.md). With PostgreSQL, replicas assign tasks this process never hears of,
so the index stays off and every poll reads the store, as before.

A poll that reads while an assignment commits cannot un-note the agent by mistake: un-noting
only happens if nothing was noted since that poll began (:attr:`AssignedIndex.epoch`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import TaskStatus
from orchestratia.protocol.events import TaskEvent
from orchestratia.hub.store.queries import agents_with_assigned_tasks


class AssignedIndex:
    def __init__(self) -> None:
        self.enabled = False
        self.epoch = 0
        self._agents: set[str] = set()

    async def load(self, session: AsyncSession) -> None:
        """Note the agents with an assigned task in the store, and trust the index from now on."""
        self._agents = await agents_with_assigned_tasks(session)
        self.enabled = True

    def note(self, agent_id: str) -> None:
        """``agent_id`` got an assigned task (called after the commit)."""
        self._agents.add(agent_id)
        self.epoch += 1

    def may_have(self, agent_id: str) -> bool:
        """False only when the agent certainly has no assigned task."""
        return not self.enabled or agent_id in self._agents

    def found_none(self, agent_id: str, epoch: int) -> None:
        """A read that began at ``epoch`` found no assigned task for the agent."""
        if epoch == self.epoch:
            self._agents.discard(agent_id)

    def note_events(self, events: Iterable[tuple[str, Any]]) -> None:
        """Note the agents of the ``assigned`` task events a transaction published."""
        for _channel, event in events:
            if isinstance(event, TaskEvent) and event.status is TaskStatus.ASSIGNED and event.agent_id:
                self.note(event.agent_id)
