"""Handing a task to its agent from the transaction that assigned it.

A task created for an agent (or a reply, which goes to its thread's agent) used to reach the
daemon by the scheduler: the create committed and kicked, the loop woke, settled dependencies,
read the queue, then read the agent's tasks again and published ``task_assigned``. Measured on
the push path (``python -m benchmarks --only dispatch``, a trace per step, 2026-12-06, quiet
machine): create 7.4 ms (of which the response's reads ~4), wake 0.5, settle 1.4, queue 1.0,
dispatch read 1.6 ms, p50 each. Here the create's own transaction reads what the agent has room
to start (``offerable_tasks``, the same rule the scheduler's dispatch uses) and pushes it once
committed (``states.push``): the push goes out with the commit, and the scheduler is kicked only
when the task did not fit (it waits for room, and the end of a running task kicks).

On PostgreSQL two transactions for one agent may each see room for their own task; the daemon
then holds the second until a slot is free (``agent/admission.py``), as it does with any offer
over its capacity.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import TaskStatus, WsTaskAssigned
from orchestratia.hub.states import push
from orchestratia.hub.store.models import Agent, Task
from orchestratia.hub.store.queries import offerable_tasks
from orchestratia.hub.views import task_payload


async def offer_now(session: AsyncSession, task: Task) -> bool:
    """Push ``task_assigned`` (after the commit) for what ``task``'s agent may start now; True
    when ``task`` is among them. False for a task that is not assigned or does not fit."""
    if task.agent_id is None or task.status != TaskStatus.ASSIGNED.value:
        return False
    agent = await session.get(Agent, task.agent_id)
    if agent is None or agent.revoked_at is not None:
        return False
    offer = await offerable_tasks(session, agent)
    for offered in offer:
        push(session, agent.id, WsTaskAssigned(task=task_payload(offered)))
    return any(offered.id == task.id for offered in offer)
