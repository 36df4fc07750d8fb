"""Admin API: pipelines (create from a file or parsed JSON, list, show, cancel).

A pipeline's tasks are stored in one write transaction with their dependencies (nothing stored
when the file is wrong: ``pipelines/spec.py`` checks it first); from then on each member is an
ordinary task that waits for its needs (``scheduler/dependencies.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from sqlalchemy import select

from orchestratia.protocol import FINAL_STATUSES, TaskStatus, WsTaskCancel
from orchestratia.protocol.pipelines import PipelineCancel, PipelineCreate
from orchestratia.protocol.shared import is_uuid
from orchestratia.hub.api.admin.tasks import checked_task, resolve_agent
from orchestratia.hub.api.deps import get_hub
from orchestratia.hub.auth import current_admin
from orchestratia.hub.pipelines.spec import PipelineError, PipelinePlan, plan
from orchestratia.hub.pipelines.views import members, pipeline_views
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.scheduler.dependencies import add_dependencies
from orchestratia.hub.states import emit, kick, push, status_event, transition
from orchestratia.hub.store.models import Admin, Pipeline, Task, utcnow

FINAL = {s.value for s in FINAL_STATUSES}


def add_routes(api: APIRouter) -> None:
    api.add_api_route("/pipelines", create_pipeline, methods=["POST"], status_code=201)
    api.add_api_route("/pipelines", list_pipelines, methods=["GET"])
    api.add_api_route("/pipelines/{pipeline_id}", get_pipeline, methods=["GET"])
    api.add_api_route("/pipelines/{pipeline_id}/cancel", cancel_pipeline, methods=["POST"])


async def load_pipeline(session: Any, pipeline_id: str, *, lock: bool = False) -> Pipeline:
    found = await session.get(Pipeline, pipeline_id, with_for_update=lock) if is_uuid(pipeline_id) else None
    if found is None:
        raise HTTPException(404, detail=f"pipeline {pipeline_id} not found (see GET /api/admin/pipelines)")
    return found


async def create_pipeline(body: PipelineCreate, hub: Runtime = Depends(get_hub),
                          admin: Admin = Depends(current_admin)) -> dict[str, Any]:
    try:
        checked = plan(body)
    except PipelineError as exc:
        raise HTTPException(422, detail=f"pipeline not created: {exc}") from exc
    async with hub.store.write() as session:
        pipeline = Pipeline(name=checked.name, created_at=utcnow(), created_by=admin.username)
        session.add(pipeline)
        await session.flush()
        await _store_nodes(session, pipeline, checked)
        return (await pipeline_views(session, [pipeline], nodes=True))[0]


async def _store_nodes(session: Any, pipeline: Pipeline, checked: PipelinePlan) -> None:
    """Each node as a task, needs first (``checked.nodes`` is in need order)."""
    tasks: dict[str, Task] = {}
    now = pipeline.created_at
    for node in checked.nodes:
        body = node.model_copy(update={"title": node.title or node.name})
        try:
            agent_id = await resolve_agent(session, node.agent)
            task = await checked_task(session, body, agent_id, now, waits=bool(node.needs))
        except HTTPException as exc:
            raise HTTPException(exc.status_code, detail=f"pipeline not created: task {node.name!r}: {exc.detail}") from exc
        task.pipeline_id, task.pipeline_node = pipeline.id, node.name
        session.add(task)
        await session.flush()
        add_dependencies(session, task, [tasks[n] for n in node.needs])
        tasks[node.name] = task
        emit(session, status_event(task))
        kick(session, agent_id)


async def list_pipelines(hub: Runtime = Depends(get_hub),
                         limit: int = Query(default=50, ge=1, le=500)) -> list[dict[str, Any]]:
    async with hub.store.read() as session:
        found = (await session.execute(
            select(Pipeline).order_by(Pipeline.created_at.desc(), Pipeline.id.desc()).limit(limit))).scalars().all()
        return await pipeline_views(session, list(found), nodes=False)


async def get_pipeline(pipeline_id: str, hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    async with hub.store.read() as session:
        return (await pipeline_views(session, [await load_pipeline(session, pipeline_id)], nodes=True))[0]


async def cancel_pipeline(pipeline_id: str, hub: Runtime = Depends(get_hub), admin: Admin = Depends(current_admin),
                          body: PipelineCancel | None = Body(default=None)) -> dict[str, Any]:
    """Cancel every member that has not ended (running ones are stopped by their daemon)."""
    async with hub.store.write() as session:
        pipeline = await load_pipeline(session, pipeline_id, lock=True)
        if pipeline.cancelled_at is not None:
            raise HTTPException(409, detail=f"pipeline {pipeline.name!r} is already cancelled")
        tasks = await members(session, [pipeline.id])
        if all(t.status in FINAL for t in tasks):
            raise HTTPException(409, detail=f"pipeline {pipeline.name!r} has ended: nothing left to cancel")
        reason = (body.reason if body else None) or f"pipeline {pipeline.name} cancelled by {admin.username}"
        pipeline.cancelled_at, pipeline.cancel_reason = utcnow(), reason
        for task in tasks:
            await _cancel_member(session, task, reason)
        return (await pipeline_views(session, [pipeline], nodes=True))[0]


async def _cancel_member(session: Any, task: Task, reason: str) -> None:
    if task.status in FINAL:
        return
    await session.refresh(task, with_for_update=True)  # its daemon may have ended it meanwhile
    previous = task.status
    if previous in FINAL:
        return
    await transition(session, task, TaskStatus.CANCELLED, cancel_reason=reason, failure_cause="cancelled",
                     deps_pending=False)
    if task.agent_id and previous in (TaskStatus.RUNNING.value, TaskStatus.ASSIGNED.value):
        push(session, task.agent_id, WsTaskCancel(task_id=task.id, reason=reason))
