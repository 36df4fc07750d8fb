"""Admin API: tasks (create, list, show, raw output, cancel)."""

from __future__ import annotations

import logging
from typing import Any, AsyncIterator

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from starlette.responses import StreamingResponse
from sqlalchemy import select

from orchestratia.protocol import TaskStatus, WsTaskCancel
from orchestratia.protocol.admin import PRIORITY_VALUES, TaskCancel, TaskCreate
from orchestratia.protocol.labels import agent_label_set, missing
from orchestratia.protocol.shared import is_uuid
from orchestratia.hub import output_window
from orchestratia.hub.api.admin import task_diff
from orchestratia.hub.api.deps import get_hub
from orchestratia.hub.api.responses import OctetStreamResponse
from orchestratia.hub.attempts import attempts_of
from orchestratia.hub.auth import current_admin
from orchestratia.hub.budgets import load_holds
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.scheduler.offer import offer_now
from orchestratia.hub.scheduler.dependencies import FAILED_PARENT, add_dependencies, dependency_ids
from orchestratia.hub.scheduler.reasons import impossible, reasons_for
from orchestratia.hub.states import TransitionConflict, emit, kick, push, status_event, transition
from orchestratia.hub.store.models import Admin, Agent, Task, utcnow
from orchestratia.hub.store.queries import agent_names, find_agent, read_output, slice_from
from orchestratia.hub.views import attempt_view, task_view

log = logging.getLogger(__name__)

#: the raw output is streamed from the store in reads of about this many bytes
OUTPUT_BATCH_BYTES = 1024 * 1024


def add_routes(api: APIRouter) -> None:
    api.add_api_route("/tasks", create_task, methods=["POST"], status_code=201)
    api.add_api_route("/tasks", list_tasks, methods=["GET"])
    api.add_api_route("/tasks/{task_id}", get_task, methods=["GET"])
    api.add_api_route("/tasks/{task_id}/output", get_output, methods=["GET"], response_class=OctetStreamResponse)
    api.add_api_route("/tasks/{task_id}/cancel", cancel_task, methods=["POST"])
    task_diff.add_routes(api)


async def load_task(session: Any, task_id: str, *, lock: bool = False) -> Task:
    task = await session.get(Task, task_id, with_for_update=lock) if is_uuid(task_id) else None
    if task is None:
        raise HTTPException(404, detail=f"task {task_id} not found")
    return task


async def show(session: Any, task: Task, hub: Runtime) -> dict[str, Any]:
    names = await agent_names(session, [task.agent_id])
    views = with_reasons([task_view(task, names.get(task.agent_id or ""))], await waiting_reasons(session, hub, [task]))
    view = (await with_dependencies(session, views))[0]
    view["attempts"] = [attempt_view(a) for a in await attempts_of(session, task.id)]
    return view


async def waiting_reasons(session: Any, hub: Runtime, tasks: list[Task]) -> dict[str, str]:
    """``queue_reason`` per waiting task (scheduler/reasons.py): two reads for the whole list."""
    return await reasons_for(session, tasks, hub.settings.offline_after_s, hub.liveness.has_unwritten_contact)


async def with_dependencies(session: Any, views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``depends_on`` of each task view (one read for the list)."""
    parents = await dependency_ids(session, [v["id"] for v in views])
    for view in views:
        view["depends_on"] = parents.get(view["id"], [])
    return views


def with_reasons(views: list[dict[str, Any]], reasons: dict[str, str]) -> list[dict[str, Any]]:
    for view in views:
        view["queue_reason"] = reasons.get(view["id"])
    return views


async def create_task(body: TaskCreate, hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    """The task is written (and, when its agent has room, pushed to it: ``scheduler/offer.py``)
    in one short write transaction; the answer is read after the commit, off the push's path."""
    async with hub.store.write() as session:
        agent_id = await resolve_agent(session, body.agent)
        parents = await load_parents(session, body.after)
        task = await checked_task(session, body, agent_id, utcnow(), waits=bool(parents))
        session.add(task)
        await session.flush()
        add_dependencies(session, task, parents)
        emit(session, status_event(task))
        if not await offer_now(session, task):
            kick(session, agent_id)
    async with hub.store.read() as session:
        task = await load_task(session, task.id)
        view = await show(session, task, hub)
        # a task for one agent: only that agent can take it (10,000 agents were read for nothing)
        query = select(Agent) if task.agent_id is None else select(Agent).where(Agent.id == task.agent_id)
        agents = (await session.execute(query)).scalars().all()
        if (never := impossible(task, agents)) is not None:
            view["warning"] = f"no registered agent can take this task yet: {never}"
        return view


async def resolve_agent(session: Any, name: str | None) -> str | None:
    """The id of the agent a task is created for (None: any agent); 404/409 when it cannot be."""
    if not name:
        return None
    agent = await find_agent(session, name)
    if agent is None:
        raise HTTPException(404, detail=f"agent {name!r} not found (see GET /api/admin/agents)")
    if agent.revoked_at is not None:
        raise HTTPException(409, detail=f"agent {agent.name!r} is revoked: choose another agent or none")
    return agent.id


def scheduling_checks(body: TaskCreate, agent: Agent | None) -> None:
    """Labels the named agent lacks are an error: it would run the task anyway."""
    if agent is None:
        return
    lacking = missing(body.labels, agent_label_set(agent.labels, agent.os, agent.runners, agent.repos))
    if lacking:
        raise HTTPException(422, detail=f"agent {agent.name!r} has no label {', '.join(lacking)}: drop --agent "
                                        "to let the hub choose an agent with the labels, or drop the label")


async def checked_task(session: Any, body: TaskCreate, agent_id: str | None, now: Any, *, waits: bool) -> Task:
    """The task row of a create body (a task, or a pipeline's member), checked as every create
    is: labels its named agent lacks are an error (422); a reached budget keeps it queued."""
    scheduling_checks(body, await session.get(Agent, agent_id) if agent_id else None)
    task = new_task(body, agent_id, now, waits=waits)
    if task.agent_id and task.status == TaskStatus.ASSIGNED.value and (await load_holds(session, now)).reason(task):
        task.status, task.agent_id, task.assigned_at = TaskStatus.QUEUED.value, None, None  # budget: it waits
    return task


def new_task(body: TaskCreate, agent_id: str | None, now: Any, *, waits: bool = False) -> Task:
    """The task row of a create body. One that waits for others (``after``, a pipeline's
    ``needs``) starts ``queued`` even for an agent: it is assigned once released
    (scheduler/dependencies.py); so does one of a group, pinned to its agent, until the group
    has room."""
    assigned = bool(agent_id) and not waits and body.group is None
    return Task(
        title=body.title,
        spec=body.spec,
        target_repo=body.target_repo or "",
        runner=body.runner or None,
        timeout_minutes=body.timeout_minutes,
        approval_policy=body.approval_policy,
        workspace_request=workspace_request(body),
        agent_id=agent_id,
        labels=list(dict.fromkeys(body.labels)) or None,
        priority=PRIORITY_VALUES[body.priority],
        group_name=body.group,
        status=(TaskStatus.ASSIGNED if assigned else TaskStatus.QUEUED).value,
        assigned_at=now if assigned else None,
        created_at=now,
        waiting_for_human=False,
        output_size=0,
        deps_pending=waits,
        requested_agent_id=agent_id,
        retry=body.retry,
        retry_on=body.retry_on,
        max_cost_usd=body.max_cost_usd,
    )


async def load_parents(session: Any, ids: list[str]) -> list[Task]:
    """The tasks of ``after``: each must exist and must not have failed (a task after a failed
    one could never run)."""
    parents: list[Task] = []
    for parent_id in dict.fromkeys(ids):
        parent = await session.get(Task, parent_id) if is_uuid(parent_id) else None
        if parent is None:
            raise HTTPException(404, detail=f"after: task {parent_id} not found (give full task ids; "
                                            "the CLI resolves prefixes)")
        if parent.status in FAILED_PARENT:
            raise HTTPException(409, detail=f"after: task {parent_id[:8]} is {parent.status}: a task after it "
                                            "would never run")
        parents.append(parent)
    return parents


def workspace_request(body: TaskCreate) -> dict[str, Any] | None:
    """What the task asks of its workspace (None: the agent's config decides everything)."""
    wanted = {"kind": body.workspace, "base_ref": body.base_ref, "branch": body.branch}
    if body.base_ref and body.branch:
        raise HTTPException(422, detail="give either base_ref (a new branch from that commit) or branch "
                                        "(continue an existing branch), not both")
    if body.workspace == "in_place" and (body.base_ref or body.branch):
        raise HTTPException(422, detail="base_ref and branch need a worktree: drop workspace in_place, "
                                        "or drop base_ref/branch to run in the repo's checkout as it is")
    return {k: v for k, v in wanted.items() if v} or None


async def list_tasks(
    hub: Runtime = Depends(get_hub),
    status: str | None = Query(default=None),
    agent: str | None = Query(default=None),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    statuses = [s.strip() for s in status.split(",") if s.strip()] if status else []
    valid = {s.value for s in TaskStatus}
    if bad := [s for s in statuses if s not in valid]:
        raise HTTPException(422, detail=f"unknown status {bad[0]!r}: use one of {', '.join(sorted(valid))}")
    async with hub.store.read() as session:
        query = select(Task).order_by(Task.created_at.desc(), Task.id.desc()).limit(limit)
        if statuses:
            query = query.where(Task.status.in_(statuses))
        if agent:
            found = await find_agent(session, agent)
            if found is None:
                raise HTTPException(404, detail=f"agent {agent!r} not found")
            query = query.where(Task.agent_id == found.id)
        tasks = (await session.execute(query)).scalars().all()
        names = await agent_names(session, [t.agent_id for t in tasks])
        reasons = await waiting_reasons(session, hub, list(tasks))
        views = with_reasons([task_view(t, names.get(t.agent_id or "")) for t in tasks], reasons)
        return await with_dependencies(session, views)


async def get_task(task_id: str, hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    async with hub.store.read() as session:
        return await show(session, await load_task(session, task_id), hub)


async def get_output(
    task_id: str,
    hub: Runtime = Depends(get_hub),
    offset: int = Query(default=0, ge=0),
    download: bool = Query(default=False, description="send Content-Disposition: attachment"),
    limit: int | None = Query(default=None, ge=0, description="at most this many bytes from offset"),
    tail_bytes: int | None = Query(default=None, ge=1, description="only the last N bytes, from a line start"),
    before: int | None = Query(default=None, ge=0, description="with tail_bytes: the tail before this offset"),
) -> StreamingResponse:
    """Stored output as raw bytes, streamed from the store in batches: from ``offset`` (at most
    ``limit`` bytes), or the last ``tail_bytes`` (before ``before``) cut at a line start.
    ``X-Offset`` is where the bytes start, ``X-Next-Offset`` where they end (without ``limit``,
    the task's output size when the request came in)."""
    async with hub.store.read() as session:
        task = await load_task(session, task_id)
        size = task.output_size or 0
        status = task.status
    offset, end = await output_window.resolve(hub, task.id, size, offset, limit, tail_bytes, before)
    headers = {"X-Offset": str(offset), "X-Next-Offset": str(end), "X-Task-Status": status,
               "Content-Length": str(end - offset)}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="task-{task.id}.log"'
    return StreamingResponse(_stored_output(hub, task.id, offset, end), headers=headers,
                             media_type=OctetStreamResponse.media_type)


async def _stored_output(hub: Runtime, task_id: str, pos: int, end: int) -> AsyncIterator[bytes]:
    """The bytes ``[pos, end)`` of the task's output; one short read transaction per batch."""
    while pos < end:
        async with hub.store.read() as session:
            chunks = await read_output(session, task_id, pos, OUTPUT_BATCH_BYTES)
        if not chunks or chunks[0].offset > pos:
            # cannot happen (stored output is contiguous up to output_size); a short body
            # against Content-Length makes the client see an error instead of a silent cut
            log.error("task %s: stored output has no bytes at offset %d (expected up to %d)", task_id, pos, end)
            return
        for chunk in chunks:
            if chunk.offset > pos:
                break
            data = slice_from(chunk, pos)[: end - pos]
            pos += len(data)
            yield data
            if pos >= end:
                return


async def cancel_task(
    task_id: str,
    hub: Runtime = Depends(get_hub),
    admin: Admin = Depends(current_admin),
    body: TaskCancel | None = Body(default=None),
) -> dict[str, Any]:
    reason = (body.reason if body else None) or f"cancelled by {admin.username}"
    async with hub.store.write() as session:
        task = await load_task(session, task_id, lock=True)
        previous = task.status
        try:
            await transition(session, task, TaskStatus.CANCELLED, cancel_reason=reason)
        except TransitionConflict as exc:
            raise HTTPException(409, detail=f"task is {exc.current}: it has already ended") from exc
        if previous == TaskStatus.CANCELLED.value:
            raise HTTPException(409, detail="task is cancelled: it has already ended")
        if task.agent_id and previous in (TaskStatus.RUNNING.value, TaskStatus.ASSIGNED.value):
            push(session, task.agent_id, WsTaskCancel(task_id=task.id, reason=reason))
        return await show(session, task, hub)
