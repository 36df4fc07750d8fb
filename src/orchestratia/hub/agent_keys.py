"""API key → agent, kept in memory so an agent request does not query the store to say who it is.

Every agent request (heartbeat, poll, a WebSocket connect) starts by mapping its ``X-API-Key``
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

from collections.abc import Iterable
from typing import Any


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
