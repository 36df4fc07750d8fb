"""Admin API: a task's change, as its agent reported it: ``GET /tasks/{id}/diff`` (the unified
diff as ``text/x-diff``; ``?stat=1`` the changed files as JSON)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from starlette.responses import Response

from orchestratia.protocol.shared import is_uuid
from orchestratia.hub.api.deps import get_hub
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.store.models import Task, TaskDiff


class DiffResponse(Response):
    media_type = "text/x-diff; charset=utf-8"


def add_routes(api: APIRouter) -> None:
    api.add_api_route("/tasks/{task_id}/diff", get_diff, methods=["GET"], response_model=None,
                      responses={200: {"content": {"text/x-diff": {}, "application/json": {}}}})


async def get_diff(task_id: str, hub: Runtime = Depends(get_hub),
                   stat: bool = Query(default=False, description="the changed files as JSON instead")) -> Any:
    """The task's unified diff ``base...head`` (empty when nothing changed); with ``stat`` the
    summary and the files. 404 when the task is unknown or its agent has not reported a change
    yet (still running, an older daemon, or a task with no repo)."""
    async with hub.store.read() as session:
        task = await session.get(Task, task_id) if is_uuid(task_id) else None
        if task is None:
            raise HTTPException(404, detail=f"task {task_id} not found")
        row = await session.get(TaskDiff, task.id)
        if row is None or task.workspace is None:
            raise HTTPException(404, detail=f"task {task.id} has no workspace result yet: its agent reports one when "
                                            f"the run ends (the task is {task.status}; a task with no repo, or run "
                                            "by an agent older than this hub, never has one)")
        if stat:
            return {"workspace": task.workspace, "files": row.files or [], "diff_truncated": bool(row.diff_truncated)}
        headers = {"X-Diff-Truncated": "1" if row.diff_truncated else "0"}
        return DiffResponse(content=(row.diff or "").encode("utf-8", "surrogateescape"), headers=headers)
