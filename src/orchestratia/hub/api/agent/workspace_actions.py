"""Agent API extension: a daemon fetches its pending workspace actions
(``GET /api/v1/agents/workspace-actions``: poll-only daemons, and pushes lost in a reconnect)
and reports each outcome (``POST /api/v1/agents/workspace-actions/{id}``). Only the task's
own agent sees or answers an action; anything else is 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from orchestratia.protocol import API_PREFIX
from orchestratia.protocol.shared import is_uuid
from orchestratia.protocol.workspace_actions import WorkspaceActionResult
from orchestratia.hub.api.deps import current_agent, get_hub
from orchestratia.hub.api.responses import OrjsonResponse
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.states import emit, status_event
from orchestratia.hub.store.models import Agent, Task, WorkspaceAction, utcnow
from orchestratia.hub.workspace_actions import action_view, pending_for_agent


def router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX, tags=["agent extensions"], default_response_class=OrjsonResponse)
    api.add_api_route("/workspace-actions", list_pending, methods=["GET"])
    api.add_api_route("/workspace-actions/{action_id}", report_outcome, methods=["POST"])
    return api


async def list_pending(agent: Agent = Depends(current_agent), hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    async with hub.store.read() as session:
        actions = await pending_for_agent(session, agent.id)
    return {"actions": [a.model_dump(mode="json") for a in actions]}


async def report_outcome(action_id: str, body: WorkspaceActionResult, agent: Agent = Depends(current_agent),
                         hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    if body.pr_url is not None and not body.pr_url.startswith(("https://", "http://")):
        raise HTTPException(422, detail="invalid request: pr_url must be an http(s) URL")
    async with hub.store.write() as session:
        row = await session.get(WorkspaceAction, action_id, with_for_update=True) if is_uuid(action_id) else None
        if row is None or row.agent_id != agent.id:
            raise HTTPException(404, detail="workspace action not found")
        if row.status != "pending":  # a retry after a lost answer: the first outcome stays
            return {"id": row.id, "status": row.status}
        row.status = "done" if body.ok else "failed"
        row.message = body.message
        row.pr_url = body.pr_url if body.ok else None
        row.finished_at = utcnow()
        task = await session.get(Task, row.task_id, with_for_update=True)
        if task is not None:
            task.workspace_action = action_view(row)
            if row.pr_url:
                task.pr_url = row.pr_url
            emit(session, status_event(task))
        return {"id": row.id, "status": row.status}
