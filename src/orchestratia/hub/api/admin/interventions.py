"""Admin API: interventions (list, answer — first answer wins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import case, select

from orchestratia.protocol import InterventionStatus, WsInterventionAnswered
from orchestratia.protocol.admin import InterventionAnswer
from orchestratia.protocol.events import InterventionEvent
from orchestratia.protocol.shared import is_uuid
from orchestratia.hub.api.deps import get_hub
from orchestratia.hub.auth import current_admin
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.states import emit, push
from orchestratia.hub.store.models import Admin, Intervention, Task, utcnow
from orchestratia.hub.store.queries import agent_names
from orchestratia.hub.views import intervention_view


#: the 409 for an answer to a question the agent withdrew (the dashboard recognises "withdrawn")
WITHDRAWN_DETAIL = ("intervention withdrawn: the agent stopped waiting for an answer (e.g. its own timeout), "
                    "so this answer would reach no one and was not saved")


def add_routes(api: APIRouter) -> None:
    api.add_api_route("/interventions", list_interventions, methods=["GET"])
    api.add_api_route("/interventions/{intervention_id}", get_intervention, methods=["GET"])
    api.add_api_route("/interventions/{intervention_id}/answer", answer, methods=["POST"])


async def _views(session: Any, rows: list[tuple[Intervention, Task]]) -> list[dict[str, Any]]:
    names = await agent_names(session, [task.agent_id for _, task in rows])
    return [intervention_view(item, task, names.get(task.agent_id or "")) for item, task in rows]


async def list_interventions(
    hub: Runtime = Depends(get_hub),
    status: str | None = Query(default=None),
    limit: int = Query(default=200, ge=1, le=1000),
) -> list[dict[str, Any]]:
    valid = {s.value for s in InterventionStatus}
    if status and status not in valid:
        raise HTTPException(422, detail=f"unknown status {status!r}: use one of {', '.join(sorted(valid))}")
    pending_first = case((Intervention.status == InterventionStatus.PENDING.value, 0), else_=1)
    query = (
        select(Intervention, Task)
        .join(Task, Task.id == Intervention.task_id)
        .order_by(pending_first, Intervention.created_at.desc())
        .limit(limit)
    )
    if status:
        query = query.where(Intervention.status == status)
    async with hub.store.read() as session:
        rows = [(row[0], row[1]) for row in await session.execute(query)]
        return await _views(session, rows)


async def _load(session: Any, intervention_id: str, *, lock: bool = False) -> tuple[Intervention, Task]:
    row = None
    if is_uuid(intervention_id):
        query = select(Intervention, Task).join(Task, Task.id == Intervention.task_id)
        query = query.where(Intervention.id == intervention_id)
        if lock:
            query = query.with_for_update(of=Intervention)
        row = (await session.execute(query)).first()
    if row is None:
        raise HTTPException(404, detail=f"intervention {intervention_id} not found")
    return row[0], row[1]


async def get_intervention(intervention_id: str, hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    async with hub.store.read() as session:
        item, task = await _load(session, intervention_id)
        return (await _views(session, [(item, task)]))[0]


async def answer(
    intervention_id: str, body: InterventionAnswer, hub: Runtime = Depends(get_hub), admin: Admin = Depends(current_admin)
) -> dict[str, Any]:
    async with hub.store.write() as session:
        item, task = await _load(session, intervention_id, lock=True)
        await session.refresh(item)
        if item.status == InterventionStatus.WITHDRAWN.value:
            raise HTTPException(409, detail=WITHDRAWN_DETAIL)
        if item.status != InterventionStatus.PENDING.value:
            who = f" by {item.answered_by}" if item.answered_by else ""
            raise HTTPException(409, detail=f"intervention already {item.status}{who}: the first answer wins")
        item.status = InterventionStatus.ANSWERED.value
        item.response = body.response
        item.answered_by = admin.username
        item.answered_at = utcnow()
        still_pending = (
            await session.execute(
                select(Intervention.id).where(
                    Intervention.task_id == task.id,
                    Intervention.status == InterventionStatus.PENDING.value,
                    Intervention.id != item.id,
                )
            )
        ).first()
        task.waiting_for_human = still_pending is not None
        await session.flush()
        emit(session, InterventionEvent(id=item.id, status=item.status, task_id=task.id))
        if task.agent_id:
            answer = WsInterventionAnswered(intervention_id=item.id, task_id=task.id, response=body.response)
            push(session, task.agent_id, answer)
        return (await _views(session, [(item, task)]))[0]
