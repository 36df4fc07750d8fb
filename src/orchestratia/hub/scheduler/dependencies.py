"""Dependencies: a task that waits for others (``tasks create --after``, a pipeline's ``needs``).

Such a task is stored ``queued`` with ``deps_pending`` true (even when created for an agent) and
its parents in ``task_dependencies``. The scheduler neither assigns nor hands it out
(:func:`runnable`, the one filter ``assignment.py`` applies) until :func:`settle` — run at the
start of each pass, which every task's end triggers — finds that:

* every parent **completed**: the spec's ``{{ needs.NAME.result }}`` are filled in
  (``pipelines/substitute.py``), ``deps_pending`` turns false, and a task created for an agent
  becomes ``assigned`` to it; a queued one goes to the next assignment (the same pass);
* a parent **failed, was cancelled or timed out**: the task is cancelled with
  ``failure_cause`` ``dependency_failed`` and a ``cancel_reason`` naming that parent; its own
  children follow in the same transaction (rounds until nothing changes), so a whole chain
  ends in one pass;
* a parent is **lost**: the task keeps waiting (a lost task may still report its end; see
  docs/scheduling.md); cancel it, or the parent, to end the wait.

v1 daemons see nothing of this: a waiting task is never assigned, polled or pushed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import TaskStatus
from orchestratia.hub.pipelines.substitute import result_text, substitute
from orchestratia.hub.states import emit, status_event, transition
from orchestratia.hub.store.models import Task, TaskDependency
from orchestratia.hub.store.transactions import Store

#: a parent that ended this way cancels its children
FAILED_PARENT = (TaskStatus.FAILED.value, TaskStatus.CANCELLED.value, TaskStatus.TIMED_OUT.value)
DEPENDENCY_FAILED = "dependency_failed"
#: a chain deeper than this ends over several passes (each pass is one kick away)
MAX_ROUNDS = 50
BATCH = 500


def runnable() -> ColumnElement[bool]:
    """The filter of tasks the scheduler may assign: none still waiting for a parent."""
    return Task.deps_pending.is_(False)


def short(task_id: str) -> str:
    return task_id[:8]


def add_dependencies(session: AsyncSession, task: Task, parents: Sequence[Task]) -> None:
    """Make ``task`` (new: created ``queued`` with ``deps_pending``) wait for ``parents``."""
    for parent in parents:
        session.add(TaskDependency(task_id=task.id, depends_on_id=parent.id))


async def settle(store: Store, now: datetime) -> None:
    """Release the waiting tasks whose parents all completed; cancel those with a failed one."""
    async with store.read() as session:
        waiting = (await session.execute(select(Task.id).where(
            Task.deps_pending.is_(True), Task.status == TaskStatus.QUEUED.value).limit(1))).first()
    if waiting is None:
        return
    async with store.write() as session:
        for _ in range(MAX_ROUNDS):
            if not await _settle_round(session, now):
                break


async def parents_of(session: AsyncSession, task_ids: Sequence[str]) -> dict[str, list[Task]]:
    """Each task's parents (one read)."""
    found: dict[str, list[Task]] = defaultdict(list)
    if task_ids:
        rows = await session.execute(
            select(TaskDependency.task_id, Task)
            .join(Task, Task.id == TaskDependency.depends_on_id)
            .where(TaskDependency.task_id.in_(list(task_ids)))
            .order_by(Task.created_at)
        )
        for child_id, parent in rows:
            found[child_id].append(parent)
    return found


async def dependency_ids(session: AsyncSession, task_ids: Sequence[str]) -> dict[str, list[str]]:
    """The ids each of ``task_ids`` waits for (one read; nothing for tasks without any)."""
    found: dict[str, list[str]] = defaultdict(list)
    if task_ids:
        rows = await session.execute(select(TaskDependency.task_id, TaskDependency.depends_on_id)
                                     .where(TaskDependency.task_id.in_(list(task_ids))))
        for child_id, parent_id in rows:
            found[child_id].append(parent_id)
    return found


async def _settle_round(session: AsyncSession, now: datetime) -> bool:
    """One generation; True when a task was cancelled (its children may follow)."""
    waiting = (await session.execute(
        select(Task).where(Task.deps_pending.is_(True), Task.status == TaskStatus.QUEUED.value)
        .order_by(Task.created_at).limit(BATCH).with_for_update(skip_locked=True)
    )).scalars().all()
    parents = await parents_of(session, [t.id for t in waiting])
    cancelled = False
    for task in waiting:
        mine = parents.get(task.id, [])
        failed = next((p for p in mine if p.status in FAILED_PARENT), None)
        if failed is not None:
            reason = f"dependency {short(failed.id)} ({failed.title}) {failed.status}"
            await transition(session, task, TaskStatus.CANCELLED, now=now, cancel_reason=reason,
                             failure_cause=DEPENDENCY_FAILED, deps_pending=False)
            cancelled = True
        elif all(p.status == TaskStatus.COMPLETED.value for p in mine):
            await _release(session, task, mine, now)
    return cancelled


async def _release(session: AsyncSession, task: Task, parents: list[Task], now: datetime) -> None:
    results = {p.pipeline_node: result_text(p.result) for p in parents if p.pipeline_node}
    if results:
        task.spec = substitute(task.spec, results)
    task.deps_pending = False
    if task.agent_id:  # created for this agent: it is its task now
        await transition(session, task, TaskStatus.ASSIGNED, now=now, agent_id=task.agent_id)
    else:
        await session.flush()
        emit(session, status_event(task))


def waiting_reason(parents: Sequence[Any]) -> str | None:
    """``waiting for task ab12cd34 (running)``, naming up to three unfinished parents."""
    open_ = [p for p in parents if p.status != TaskStatus.COMPLETED.value]
    if not open_:
        return None
    named = ", ".join(f"task {short(p.id)} ({p.status})" for p in open_[:3])
    more = f" and {len(open_) - 3} more" if len(open_) > 3 else ""
    return f"waiting for {named}{more}"


async def dependency_reasons(session: AsyncSession, tasks: Sequence[Any]) -> dict[str, str]:
    """``queue_reason`` of the tasks of ``tasks`` that wait for a parent (one read)."""
    blocked = [t for t in tasks if getattr(t, "deps_pending", False) and t.status == TaskStatus.QUEUED.value]
    if not blocked:
        return {}
    parents = await parents_of(session, [t.id for t in blocked])
    reasons = {t.id: waiting_reason(parents.get(t.id, [])) for t in blocked}
    # all parents completed: the next pass releases it
    return {k: v or "its dependencies completed: being released" for k, v in reasons.items()}
