"""Admin API: concurrency groups (list, set a limit, delete it).

A group caps how many of its tasks are assigned or running at once across the whole fleet
(``tasks create --group NAME``; e.g. one Claude account shared by several servers). Setting or
raising a limit kicks the scheduler, so tasks that waited for room in the group are assigned
within the pass. Deleting a group's limit leaves its tasks in the group, without a limit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path
from sqlalchemy import func, select

from orchestratia.protocol import TaskStatus
from orchestratia.protocol.admin import GroupSet
from orchestratia.protocol.labels import LABEL_RULE, label_problem
from orchestratia.hub.api.deps import get_hub
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.scheduler.assignment import ACTIVE
from orchestratia.hub.states import kick
from orchestratia.hub.store.models import Task, TaskGroup, utcnow
from orchestratia.hub.views import iso


def add_routes(api: APIRouter) -> None:
    api.add_api_route("/groups", list_groups, methods=["GET"])
    api.add_api_route("/groups/{name}", set_group, methods=["PUT"])
    api.add_api_route("/groups/{name}", delete_group, methods=["DELETE"], status_code=204)


def _name(name: str) -> str:
    if label_problem(name) is not None:
        raise HTTPException(422, detail=f"{name[:60]!r} is not a group name ({LABEL_RULE})")
    return name


def group_view(name: str, row: TaskGroup | None, active: int, queued: int) -> dict[str, Any]:
    created: datetime | None = row.created_at if row is not None else None
    updated: datetime | None = row.updated_at if row is not None else None
    return {"name": name, "max_active": row.max_active if row is not None else None, "active": active,
            "queued": queued, "created_at": iso(created), "updated_at": iso(updated)}


async def _counts(session: Any, names: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Per group named by an active or queued task: ``{"active": n, "queued": n}``."""
    query = (select(Task.group_name, Task.status, func.count())
             .where(Task.group_name.is_not(None), Task.status.in_((*ACTIVE, TaskStatus.QUEUED.value)))
             .group_by(Task.group_name, Task.status))
    if names is not None:
        query = query.where(Task.group_name.in_(names))
    counts: dict[str, dict[str, int]] = {}
    for group, status, n in await session.execute(query):
        entry = counts.setdefault(group, {"active": 0, "queued": 0})
        entry["queued" if status == TaskStatus.QUEUED.value else "active"] += n
    return counts


async def list_groups(hub: Runtime = Depends(get_hub)) -> list[dict[str, Any]]:
    """Groups with a limit, and groups that waiting or active tasks name without one."""
    async with hub.store.read() as session:
        rows = {g.name: g for g in (await session.execute(select(TaskGroup))).scalars()}
        counts = await _counts(session)
    return [group_view(name, rows.get(name), counts.get(name, {}).get("active", 0),
                       counts.get(name, {}).get("queued", 0)) for name in sorted(set(rows) | set(counts))]


async def set_group(body: GroupSet, name: str = Path(max_length=100), hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    """Create the group's limit or change it (200 either way: PUT)."""
    _name(name)
    now = utcnow()
    async with hub.store.write() as session:
        row = await session.get(TaskGroup, name, with_for_update=True)
        if row is None:
            row = TaskGroup(name=name, max_active=body.max_active, created_at=now, updated_at=now)
            session.add(row)
        else:
            row.max_active, row.updated_at = body.max_active, now
        await session.flush()
        kick(session, None)  # a higher limit lets queued tasks of the group go
        counts = (await _counts(session, [name])).get(name, {})
        return group_view(name, row, counts.get("active", 0), counts.get("queued", 0))


async def delete_group(name: str = Path(max_length=100), hub: Runtime = Depends(get_hub)) -> None:
    """Remove the group's limit (its tasks keep the name; without a limit they all may run)."""
    async with hub.store.write() as session:
        row = await session.get(TaskGroup, name, with_for_update=True)
        if row is None:
            raise HTTPException(404, detail=f"group {name[:100]!r} has no limit set (see GET /api/admin/groups)")
        await session.delete(row)
        kick(session, None)
