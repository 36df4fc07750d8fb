"""The assignment pass's choices, pure: which queued task goes to which agent (no store here).

Rules (docs/scheduling.md): a task goes to an online agent that has its repo, its runner, all
its labels, room (``max_concurrent_tasks``; one task per repo directory for tasks that run in
the repo's checkout) and, when the task is in a group, the group must be under its limit
(assigned + running tasks of the group, fleet-wide). Among those, the least loaded (assigned +
running) first; ties by name. Tasks come in queue order (priority, then age), so a task that
cannot go anywhere never holds back one behind it.

Why it is fast (benchmarks/bench_sched.py: 10,000 queued tasks, 1,000 agents with labels):

* only agents with room take part, so a busy fleet costs nothing per task;
* tasks ask for few distinct things: the agents that fit a requirement (repo, runner, labels,
  named agent) are computed once per distinct requirement (:class:`Want`), from the agents with
  room only, and pruned as they fill; a requirement no agent with room meets is skipped in O(1);
* the caller stops reading the queue when no agent has room left (:attr:`Planner.free`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestratia.protocol.labels import agent_label_set
from orchestratia.hub.store.queries import in_place_dir


class JsonTexts:
    """A JSON column's text decoded once per distinct text (queued tasks repeat a few)."""

    def __init__(self) -> None:
        self._seen: dict[str, Any] = {}

    def __call__(self, text: Any) -> Any:
        if not isinstance(text, str):  # None (the queries cast the JSON columns to text)
            return text
        if text not in self._seen:
            try:
                self._seen[text] = json.loads(text) if text else None
            except ValueError:  # not ours to repair here: such a task matches no label
                self._seen[text] = ["\x00unreadable"]
        return self._seen[text]


def runner_ok(agent: Any, runner: str | None) -> bool:
    """Whether ``agent`` (a store row or a :class:`Slot`: anything with ``runners``) runs ``runner``."""
    if not runner:
        return True
    if agent.runners is None:  # an old daemon: it runs Claude Code only
        return runner == "claude"
    return runner in agent.runners


@dataclass(slots=True)
class QueuedTask:
    """What the pass needs of a queued task (a row of the queue read, JSON decoded)."""

    id: str
    target_repo: str
    runner: str | None
    labels: list[str] | None
    group_name: str | None
    workspace_request: dict[str, Any] | None
    agent_id: str | None

    @classmethod
    def of(cls, row: Any, decode: JsonTexts) -> QueuedTask:
        request = decode(row.workspace_request)
        return cls(row.id, row.target_repo or "", row.runner, decode(row.labels), row.group_name,
                   request if isinstance(request, dict) else None, row.agent_id)


@dataclass(eq=False)
class Slot:
    """An online agent in this pass: what it offers and how busy it is."""

    id: str
    name: str
    repos: dict[str, Any]
    runners: list[str] | None  # None: a v1 daemon (Claude Code only)
    labels: frozenset[str]
    cap: int
    load: int = 0  # assigned + running tasks
    busy: set[str] = field(default_factory=set)  # repo directories with a task in the checkout

    @classmethod
    def of(cls, row: Any) -> Slot:
        """From an agent row (``id, name, os, repos, runners, labels, max_concurrent_tasks``)."""
        return cls(row.id, row.name, row.repos or {}, row.runners,
                   agent_label_set(row.labels, row.os, row.runners, row.repos), row.max_concurrent_tasks or 1)

    @property
    def room(self) -> bool:
        return self.load < self.cap


@dataclass(frozen=True)
class Want:
    """What a task asks of its agent; tasks with equal wants share one eligibility list."""

    repo: str
    runner: str | None
    labels: frozenset[str]
    agent_id: str | None  # a task created for one agent (queued while its group is full)

    @classmethod
    def of(cls, task: Any) -> Want:
        return cls(task.target_repo or "", task.runner or None, frozenset(task.labels or ()), task.agent_id)

    def fits(self, slot: Slot) -> bool:
        if self.agent_id is not None and slot.id != self.agent_id:
            return False
        if self.repo and self.repo not in slot.repos:
            return False
        if not runner_ok(slot, self.runner):
            return False
        return self.labels <= slot.labels


class Planner:
    """Chooses agents for queued tasks, one task at a time, in queue order.

    ``slots``: the online agents, their load and busy directories counted from their active
    tasks; ``group_active``/``group_limits``: assigned + running tasks per group, and the limits
    set (a group without one has no limit); ``parked``: (agent id, runner) held by a usage limit.
    """

    def __init__(self, slots: Sequence[Slot], group_active: dict[str, int] | None = None,
                 group_limits: dict[str, int] | None = None,
                 parked: set[tuple[str, str | None]] | None = None) -> None:
        self.slots = sorted((s for s in slots if s.room), key=lambda s: s.name)
        self.free = sum(s.cap - s.load for s in self.slots)
        self.group_active = dict(group_active or {})
        self.group_limits = dict(group_limits or {})
        self._fits: dict[Want, list[Slot]] = {}
        #: (agent id, runner) parked by a usage limit: that agent takes no task of that runner
        self.parked = set(parked or ())

    def group_full(self, group: str | None) -> bool:
        limit = self.group_limits.get(group or "")
        return limit is not None and self.group_active.get(group or "", 0) >= limit

    def choose(self, task: Any) -> Slot | None:
        """The least loaded agent with room that may take ``task`` now, or None."""
        if self.free <= 0 or self.group_full(task.group_name):
            return None
        want = Want.of(task)
        fits = self._fits.get(want)
        if fits is None:
            fits = [s for s in self.slots if want.fits(s) and (s.id, want.runner) not in self.parked]
        elif any(not s.room for s in fits):
            fits = [s for s in fits if s.room]
        self._fits[want] = fits
        best: Slot | None = None
        for slot in fits:
            if best is not None and slot.load >= best.load:
                continue
            directory = in_place_dir(slot.repos, task.target_repo, task.workspace_request)
            if directory is None or directory not in slot.busy:
                best = slot
        return best

    def take(self, slot: Slot, task: Any) -> None:
        """Count ``task`` as assigned to ``slot``."""
        slot.load += 1
        self.free -= 1
        if (directory := in_place_dir(slot.repos, task.target_repo, task.workspace_request)) is not None:
            slot.busy.add(directory)
        if task.group_name:
            self.group_active[task.group_name] = self.group_active.get(task.group_name, 0) + 1

    def plan_rows(self, rows: Iterable[Any], decode: JsonTexts) -> list[tuple[Any, Slot]]:
        """:meth:`plan` for rows of the queue read (``id, target_repo, runner, labels,
        group_name, workspace_request, agent_id``; JSON as text). Slots only fill during a pass,
        so once no agent takes a task, none takes a later one asking the same: those rows are
        skipped before any decoding (a pass over 10,000 tasks that fit nowhere: one set lookup
        each)."""
        chosen: list[tuple[Any, Slot]] = []
        dead: set[tuple[Any, ...]] = set()
        for row in rows:
            if self.free <= 0:
                break
            if row[4] is not None and self.group_full(row[4]):  # group_name (plain indexes: Row's fast path)
                continue
            key = (row[1], row[2], row[3], row[5], row[6])
            if key in dead:
                continue
            task = QueuedTask.of(row, decode)
            if (slot := self.choose(task)) is None:
                dead.add(key)
                continue
            self.take(slot, task)
            chosen.append((task, slot))
        return chosen

    def plan(self, tasks: Iterable[Any]) -> list[tuple[Any, Slot]]:
        """``(task, slot)`` for each of ``tasks`` (in queue order) that an agent takes now."""
        chosen: list[tuple[Any, Slot]] = []
        for task in tasks:
            if self.free <= 0:
                break
            if (slot := self.choose(task)) is not None:
                self.take(slot, task)
                chosen.append((task, slot))
        return chosen
