"""Workspace actions on the hub: an admin's push / pull request / discard of a finished task's
branch, queued for the task's agent (table ``workspace_actions``) and shown on the task as its
latest ``workspace_action`` (protocol/workspace_actions.py, docs/workspaces.md)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol.workspace_actions import ActionView, WorkspaceAction as ActionPayload
from orchestratia.hub.store.models import Task, WorkspaceAction
from orchestratia.hub.views import iso

#: the most pending actions one fetch returns (an agent works through them in order)
FETCH_LIMIT = 100


def action_view(row: WorkspaceAction) -> dict[str, Any]:
    """What the task shows as its ``workspace_action``."""
    params = row.params or {}
    return ActionView(id=row.id, kind=row.kind, status=row.status, message=row.message or "",
                      remote=params.get("remote"), pr=bool(params.get("pr")), force=bool(params.get("force")),
                      pr_url=row.pr_url, requested_by=row.requested_by, requested_at=iso(row.created_at),
                      finished_at=iso(row.finished_at)).model_dump(mode="json")


def action_payload(row: WorkspaceAction, task: Task) -> ActionPayload:
    """The request as the daemon gets it: the branch and base from the task's reported workspace."""
    params = row.params or {}
    ws = task.workspace or {}
    return ActionPayload(id=row.id, task_id=row.task_id, kind=row.kind, target_repo=task.target_repo or "",
                         branch=ws.get("branch"), base=ws.get("base_ref"), remote=params.get("remote") or "origin",
                         pr=bool(params.get("pr")), title=params.get("title") or task.title,
                         force=bool(params.get("force")))


async def pending_for_agent(session: AsyncSession, agent_id: str) -> list[ActionPayload]:
    rows = (await session.execute(
        select(WorkspaceAction, Task).join(Task, Task.id == WorkspaceAction.task_id)
        .where(WorkspaceAction.agent_id == agent_id, WorkspaceAction.status == "pending")
        .order_by(WorkspaceAction.created_at).limit(FETCH_LIMIT))).all()
    return [action_payload(row, task) for row, task in rows]


async def pending_for_task(session: AsyncSession, task_id: str) -> WorkspaceAction | None:
    return (await session.execute(
        select(WorkspaceAction).where(WorkspaceAction.task_id == task_id, WorkspaceAction.status == "pending")
        .limit(1))).scalar_one_or_none()
