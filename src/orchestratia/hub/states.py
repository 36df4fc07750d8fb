"""The task state machine (PROTOCOL.md, "Task states"): the one place a task's status changes.

:func:`transition` applies ``protocol.TASK_TRANSITIONS``. A repeat of the transition that
already happened is a no-op (the API answers 200 again); any other transition the table does
not allow raises :class:`TransitionConflict` (the API answers 409 naming the current status).
Finishing or cancelling a task cancels its pending interventions.

Side effects to publish after the commit are collected on the session: typed events
(``protocol.events``) with :func:`emit`, hub → agent pushes (``protocol.pushes``) with
:func:`push`, a scheduler wake-up with :func:`kick`; ``Store.write()``
(``store/transactions.py``) delivers them once committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import FINAL_STATUSES, InterventionStatus, TaskStatus, can_transition
from orchestratia.hub.attempt_log import add_cost, record_attempt
from orchestratia.hub.costs import RunCost
from orchestratia.hub.metrics import note_transition
from orchestratia.protocol.events import AnyEvent, InterventionEvent, TaskEvent, TaskStatusEvent
from orchestratia.protocol.pushes import AnyPush, agent_channel
from orchestratia.hub.store.models import Intervention, Task, utcnow


class TransitionConflict(Exception):
    """The transition is not allowed from the task's current status."""

    def __init__(self, task: Task, target: TaskStatus) -> None:
        self.current = task.status
        self.target = target
        super().__init__(f"task {task.id} is {task.status}; it cannot become {target.value}")

    @property
    def detail(self) -> str:
        return f"task is {self.current}: cannot change it to {self.target.value}"


def emit(session: AsyncSession, event: AnyEvent) -> None:
    """Publish ``event`` on its channel once the session's transaction has committed."""
    session.info.setdefault("events", []).append((event.channel, event))


def push(session: AsyncSession, agent_id: str, message: AnyPush) -> None:
    """Push ``message`` to the agent (``agent:{id}``) once the transaction has committed."""
    session.info.setdefault("events", []).append((agent_channel(agent_id), message))


def kick(session: AsyncSession, agent_id: str | None = None) -> None:
    """Re-run assignment after the commit (for ``agent_id``'s room, or queued tasks)."""
    session.info.setdefault("kick", set()).add(agent_id)


def status_event(task: Task) -> TaskEvent:
    """The ``hub`` event of the task as it is now."""
    return TaskEvent(id=task.id, status=task.status, agent_id=task.agent_id)


async def transition(
    session: AsyncSession,
    task: Task,
    target: TaskStatus,
    *,
    now: datetime | None = None,
    run: RunCost | None = None,
    record: bool = True,
    **fields: Any,
) -> bool:
    """Move ``task`` to ``target``. Returns False for a repeat (nothing changed).

    ``fields`` (result, error, exit_code, agent_id, cancel_reason) are set only on a real change.
    A run that ends (a final status) is recorded as an attempt with ``run``'s cost
    (``attempt_log.record_attempt``; ``record=False``: the caller recorded it).
    """
    current = TaskStatus(task.status)
    if current == target:
        return False
    if not can_transition(current, target):
        raise TransitionConflict(task, target)
    now = now or utcnow()
    for name, value in fields.items():
        setattr(task, name, value)
    if target == TaskStatus.CANCELLED and "failure_cause" not in fields:
        task.failure_cause = "cancelled"
    if record and target in FINAL_STATUSES:
        await record_attempt(session, task, target.value, now, run)
        add_cost(task, run)
    task.status = target.value
    _stamp(task, target, now)
    note_transition(session, task, target)  # durations for /metrics, counted once committed
    if target in FINAL_STATUSES:
        task.waiting_for_human = False
        await cancel_pending_interventions(session, task.id)
    await session.flush()
    emit(session, status_event(task))
    emit(session, TaskStatusEvent(task_id=task.id, status=task.status))
    if target != TaskStatus.RUNNING:  # room freed, a task to hand out, or a queued one
        kick(session, task.agent_id)
    return True


def _stamp(task: Task, target: TaskStatus, now: datetime) -> None:
    if target == TaskStatus.ASSIGNED:
        task.assigned_at = now
    elif target == TaskStatus.QUEUED:
        task.agent_id = None
        task.assigned_at = None
    elif target == TaskStatus.RUNNING:
        task.started_at = now
    elif target in FINAL_STATUSES:
        task.finished_at = now


async def cancel_pending_interventions(session: AsyncSession, task_id: str) -> None:
    ids = (
        await session.execute(
            select(Intervention.id).where(
                Intervention.task_id == task_id, Intervention.status == InterventionStatus.PENDING.value
            )
        )
    ).scalars().all()
    if not ids:
        return
    await session.execute(
        update(Intervention)
        .where(Intervention.id.in_(ids))
        .values(status=InterventionStatus.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )
    for intervention_id in ids:
        emit(session, InterventionEvent(id=intervention_id, status=InterventionStatus.CANCELLED, task_id=task_id))
