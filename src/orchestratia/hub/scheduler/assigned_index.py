"""Which agents may have an assigned task, so a poll with nothing for its agent needs no store read.

A deployed v1 daemon polls every 10 s whether or not it has work; with thousands of agents
almost every poll answers ``[]``, and reading the store for it was the largest cost of one
hub process serving such a fleet (docs/performance.md). The hub notes every agent that gets an
``assigned`` task (every assignment publishes a task event after its commit, see
``Store.write``); a poll from an agent not noted answers ``[]`` at once, and a poll that read the
store and found no assigned task un-notes its agent.

Who may trust it:

* one hub process on SQLite (SQLite means one process, docs/hub.md): it sees every assignment
  the moment it commits; the index is exact (:attr:`AssignedIndex.exact`).
* replicas on PostgreSQL + Redis: each replica also notes the assignments the others publish on
  the ``hub`` channel (``assigned_feed.py`` keeps the subscription; it turns the index off
  whenever it may have missed a message, and on again after re-reading the store). A message
  takes a moment to arrive, so the index is not exact: a poll in that moment answers ``[]`` and
  the next one finds the task, as if the poll had come a moment earlier; the scheduler, which
  must not skip a push, does not filter by it (:meth:`may_have` with ``fresh``).
* PostgreSQL without Redis: off, every poll reads the store.

A poll that reads while an assignment commits cannot un-note the agent by mistake: un-noting
only happens if nothing was noted since that poll began (:attr:`AssignedIndex.epoch`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import TaskStatus
from orchestratia.protocol.events import TaskEvent
from orchestratia.hub.store.queries import agents_with_assigned_tasks


class Feed(Protocol):
    """What keeps a replica's index in step with the others (``assigned_feed.AssignedFeed``)."""

    async def close(self) -> None: ...


class AssignedIndex:
    def __init__(self) -> None:
        self.enabled = False
        #: True when every assignment is noted before anything else can run (one process)
        self.exact = False
        self.epoch = 0
        self._agents: set[str] = set()
        self.feed: Feed | None = None

    async def load(self, session: AsyncSession, *, exact: bool = True) -> None:
        """Note the agents with an assigned task in the store, and trust the index from now on.

        Adds to what is noted (never replaces): a note that arrives while the store is read
        must not be dropped by it."""
        self.epoch += 1  # a poll reading across the load must not un-note what it loads
        self.note_all(await agents_with_assigned_tasks(session))
        self.exact = exact
        self.enabled = True

    def disable(self) -> None:
        """Stop trusting the index (a replica that may have missed a message): polls read."""
        self.enabled = False
        self.epoch += 1

    def note(self, agent_id: str) -> None:
        """``agent_id`` got an assigned task (called after the commit)."""
        self._agents.add(agent_id)
        self.epoch += 1

    def note_all(self, agent_ids: Iterable[str]) -> None:
        self._agents.update(agent_ids)
        self.epoch += 1

    def may_have(self, agent_id: str, *, fresh: bool = False) -> bool:
        """False only when the agent certainly has no assigned task. ``fresh``: also counting
        assignments another replica committed a moment ago (their messages may be in flight)."""
        if not self.enabled or (fresh and not self.exact):
            return True
        return agent_id in self._agents

    def found_none(self, agent_id: str, epoch: int) -> None:
        """A read that began at ``epoch`` found no assigned task for the agent."""
        if epoch == self.epoch:
            self._agents.discard(agent_id)

    def note_event(self, event: Any) -> None:
        """Note the agent of an ``assigned`` task event (this replica's, or another's through
        the feed)."""
        if isinstance(event, TaskEvent) and event.status is TaskStatus.ASSIGNED and event.agent_id:
            self.note(event.agent_id)

    def note_events(self, events: Iterable[tuple[str, Any]]) -> None:
        """Note the agents of the ``assigned`` task events a transaction published."""
        for _channel, event in events:
            self.note_event(event)

    async def close(self) -> None:
        feed, self.feed = self.feed, None
        if feed is not None:
            await feed.close()
