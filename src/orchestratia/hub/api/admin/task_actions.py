"""Admin API: ``POST /tasks/{id}/push`` and ``POST /tasks/{id}/discard``. The request is
stored pending and pushed to the task's agent, which reports the outcome
(``hub/api/agent/workspace_actions.py``); the task shows it as ``workspace_action``
(202 now, the outcome later: ``orchestratia tasks push`` waits for it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException

from orchestratia.protocol import FINAL_STATUSES
from orchestratia.protocol.workspace_actions import (
    FEATURE_WORKSPACE_ACTIONS, DiscardRequest, PushRequest, WsWorkspaceAction,
)
from orchestratia.hub.api.admin.tasks import load_task, show
from orchestratia.hub.api.deps import get_hub
from orchestratia.hub.auth import current_admin
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.states import emit, push, status_event
from orchestratia.hub.store.models import Admin, Agent, Task, WorkspaceAction, utcnow
from orchestratia.hub.workspace_actions import action_payload, action_view, pending_for_task

_FINAL = {s.value for s in FINAL_STATUSES}


def add_routes(api: APIRouter) -> None:
    api.add_api_route("/tasks/{task_id}/push", push_task, methods=["POST"], status_code=202)
    api.add_api_route("/tasks/{task_id}/discard", discard_task, methods=["POST"], status_code=202)


async def push_task(task_id: str, body: PushRequest | None = Body(default=None), hub: Runtime = Depends(get_hub),
                    admin: Admin = Depends(current_admin)) -> dict[str, Any]:
    """Push the task's branch to ``remote`` (default ``origin``) with the agent's own git
    credentials; with ``pr`` also open a pull / merge request (``gh`` / ``glab`` there)."""
    body = body or PushRequest()
    remote = (body.remote or "").strip() or None
    params = {"remote": remote, "pr": body.pr, "title": (body.title or "").strip() or None}
    return await _request(hub, admin, task_id, "push", params)


async def discard_task(task_id: str, body: DiscardRequest | None = Body(default=None),
                       hub: Runtime = Depends(get_hub), admin: Admin = Depends(current_admin)) -> dict[str, Any]:
    """Remove the task's worktree and branch on its agent; refused there when the branch has
    commits on no remote, unless ``force``."""
    return await _request(hub, admin, task_id, "discard", {"force": bool(body and body.force)})


async def _request(hub: Runtime, admin: Admin, task_id: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    async with hub.store.write() as session:
        task = await load_task(session, task_id, lock=True)
        agent = await session.get(Agent, task.agent_id) if task.agent_id else None
        _check(task, agent, kind)
        busy = await pending_for_task(session, task.id)
        if busy is not None:
            raise HTTPException(409, detail=f"a {busy.kind} of this task is already pending (asked at "
                                            f"{busy.created_at.isoformat()}); wait for its outcome "
                                            f"(orchestratia tasks show {task.id[:8]})")
        row = WorkspaceAction(task_id=task.id, agent_id=agent.id, kind=kind, params=params, status="pending",
                              requested_by=admin.username, created_at=utcnow())
        session.add(row)
        await session.flush()
        task.workspace_action = action_view(row)
        push(session, agent.id, WsWorkspaceAction(action=action_payload(row, task)))
        emit(session, status_event(task))
        return await show(session, task, hub)


def _check(task: Task, agent: Agent | None, kind: str) -> None:
    """Refuse what the agent could not do, saying why and what to do instead."""
    verb = "push" if kind == "push" else "discard"
    if task.status not in _FINAL:
        raise HTTPException(409, detail=f"task is {task.status}: {verb} its branch once it has ended")
    ws = task.workspace or {}
    if not ws:
        raise HTTPException(409, detail="task has no workspace: it ran with no repo, or its agent did not report "
                                        "one (an older daemon), so there is no branch to " + verb)
    if ws.get("kind") != "worktree" or not ws.get("branch"):
        raise HTTPException(409, detail="task ran in place in the repo's checkout, not on its own branch: "
                                        f"nothing to {verb} from here; use git in that checkout on the server")
    last = task.workspace_action or {}
    if last.get("kind") == "discard" and last.get("status") == "done":
        raise HTTPException(409, detail=f"task's worktree and branch {ws['branch']} were discarded already")
    if agent is None:
        raise HTTPException(409, detail="task's agent was deleted: its worktree is on a server this hub no longer "
                                        "knows")
    if agent.revoked_at is not None:
        raise HTTPException(409, detail=f"agent {agent.name} was revoked: it can no longer {verb} this task's branch")
    if FEATURE_WORKSPACE_ACTIONS not in (agent.features or []):
        raise HTTPException(409, detail=f"agent {agent.name} runs a daemon that cannot {verb} branches (v1 or "
                                        "older than this hub): upgrade orchestratia on that server and restart "
                                        "its daemon, then try again")
