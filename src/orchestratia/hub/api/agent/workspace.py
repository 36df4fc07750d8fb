"""Extension of the v1 agent API: ``POST /api/v1/agents/tasks/{id}/workspace``, the daemon's
account of a task's change (summary, files, unified diff), sent before its complete/fail.

Any state is accepted (a cancelled or timed-out task's change is still worth seeing), again and
again (a retry after a lost answer replaces the first). Only the task's own agent may send it.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Depends, HTTPException

from orchestratia.protocol.workspace import WorkspaceReport
from orchestratia.hub.api.deps import current_agent, get_hub
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.store.models import Agent, TaskDiff, utcnow
from orchestratia.hub.store.queries import agent_task

#: the route's path pattern, for the body limit (middleware.BodyLimitMiddleware's per-route limit)
PATH = re.compile(r"^/api/v1/agents/tasks/[^/]+/workspace$")


async def report_workspace(task_id: str, body: WorkspaceReport, agent: Agent = Depends(current_agent),
                           hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    async with hub.store.write() as session:
        task = await agent_task(session, agent.id, task_id, lock=True)
        if task is None:
            raise HTTPException(404, detail="task not found")
        task.workspace = body.summary().model_dump(mode="json")
        files = [f.model_dump(mode="json") for f in body.files]
        row = await session.get(TaskDiff, task.id)
        if row is None:
            session.add(TaskDiff(task_id=task.id, files=files, diff=body.diff, diff_truncated=body.diff_truncated,
                                 created_at=utcnow()))
        else:
            row.files, row.diff, row.diff_truncated = files, body.diff, body.diff_truncated
        return {"id": task.id, "stored": True}
