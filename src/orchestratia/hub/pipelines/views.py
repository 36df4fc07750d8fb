"""A pipeline as the admin API and the dashboard show it: its members, their needs and depth
(the graph's columns), and a status summed up from theirs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import TaskStatus
from orchestratia.hub.views import iso
from orchestratia.hub.store.models import Pipeline, Task, TaskDependency

FAILED = {TaskStatus.FAILED.value, TaskStatus.TIMED_OUT.value, TaskStatus.CANCELLED.value, TaskStatus.LOST.value}
ACTIVE = {TaskStatus.ASSIGNED.value, TaskStatus.RUNNING.value}


def pipeline_status(pipeline: Pipeline, statuses: Sequence[str]) -> str:
    """cancelled (by its cancel), failed (a member did not complete and all others ended),
    completed (all did), running (a member is assigned or running, or some ended), else queued."""
    if pipeline.cancelled_at is not None:
        return "cancelled"
    ended = [s for s in statuses if s in FAILED or s == TaskStatus.COMPLETED.value]
    if statuses and len(ended) == len(statuses):
        return "failed" if any(s in FAILED for s in statuses) else "completed"
    if any(s in ACTIVE for s in statuses) or ended:
        return "running"
    return "queued"


async def members(session: AsyncSession, pipeline_ids: Sequence[str]) -> list[Task]:
    if not pipeline_ids:
        return []
    return list((await session.execute(
        select(Task).where(Task.pipeline_id.in_(list(pipeline_ids))).order_by(Task.created_at, Task.id)
    )).scalars())


def _depths(tasks: Sequence[Task], needs: dict[str, list[str]]) -> dict[str, int]:
    """Each member's column: 0 when it needs nothing, else one more than its deepest need.
    Members share one creation time, so no stored order helps: rounds until every depth is
    known (the graph was checked acyclic when stored; a member whose needs are not all
    members stays at the round it was reached)."""
    names = {t.id: t.pipeline_node or t.id for t in tasks}
    wanted = {names[t.id]: needs.get(t.id, []) for t in tasks}
    depth: dict[str, int] = {}
    while len(depth) < len(wanted):
        ready = {n: 1 + max((depth[p] for p in ps), default=-1)
                 for n, ps in wanted.items() if n not in depth and all(p in depth for p in ps)}
        if not ready:  # cannot happen for a stored pipeline; never loop forever
            ready = {n: 0 for n in wanted if n not in depth}
        depth |= ready
    return depth


async def pipeline_views(session: AsyncSession, pipelines: Sequence[Pipeline], *, nodes: bool) -> list[dict[str, Any]]:
    """The views of ``pipelines`` (two reads for the whole list); ``nodes``: with each member."""
    tasks = await members(session, [p.id for p in pipelines])
    by_id = {t.id: t for t in tasks}
    needs: dict[str, list[str]] = {}
    if nodes and tasks:
        rows = await session.execute(select(TaskDependency.task_id, TaskDependency.depends_on_id)
                                     .where(TaskDependency.task_id.in_(list(by_id))))
        for child, parent in rows:
            if parent in by_id:
                needs.setdefault(child, []).append(by_id[parent].pipeline_node or parent)
    depth = _depths(tasks, needs)
    views = []
    for pipeline in pipelines:
        mine = [t for t in tasks if t.pipeline_id == pipeline.id]
        view: dict[str, Any] = {
            "id": pipeline.id, "name": pipeline.name,
            "status": pipeline_status(pipeline, [t.status for t in mine]),
            "created_at": iso(pipeline.created_at), "created_by": pipeline.created_by,
            "cancelled_at": iso(pipeline.cancelled_at), "cancel_reason": pipeline.cancel_reason,
            "counts": dict(Counter(t.status for t in mine)), "nodes": [],
        }
        if nodes:
            view["nodes"] = [{
                "name": t.pipeline_node or t.id, "task_id": t.id, "title": t.title, "status": t.status,
                "needs": sorted(needs.get(t.id, [])), "depth": depth[t.pipeline_node or t.id],
                "failure_cause": t.failure_cause, "cancel_reason": t.cancel_reason,
            } for t in sorted(mine, key=lambda t: (depth[t.pipeline_node or t.id], t.pipeline_node or t.id))]
        views.append(view)
    return views
