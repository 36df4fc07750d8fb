"""Admin API: replies continue a task's conversation (``POST /tasks/{id}/replies``) and a
task's thread (``GET /tasks/{id}/thread``: its parent chain and every reply, in order).

A reply is a new task with ``parent_id`` = the task, for the same agent, runner and repo; its
``resume`` tells the daemon which CLI conversation to resume (the parent's ``session_id``) and
which worktree and branch to continue (the thread's first task's, recreated from the branch
when it was removed). See docs/workspaces.md ("Replies").
"""

from __future__ import annotations

from typing import Any, Sequence

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select

from orchestratia.protocol import FINAL_STATUSES, TaskStatus
from orchestratia.protocol.admin import TASK_TITLE_MAX, TaskReply
from orchestratia.hub.api.admin.tasks import load_task, show, waiting_reasons, with_reasons
from orchestratia.hub.api.deps import get_hub
from orchestratia.hub.conversation import resume_of
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.scheduler.offer import offer_now
from orchestratia.hub.states import emit, kick, status_event
from orchestratia.hub.store.models import Agent, Task, utcnow
from orchestratia.hub.store.queries import agent_names
from orchestratia.hub.views import task_view

#: a thread longer than this is cut (ancestors first kept): a page lists it, nothing loops on it
THREAD_MAX = 200
FINAL = {s.value for s in FINAL_STATUSES}


def add_routes(api: APIRouter) -> None:
    api.add_api_route("/tasks/{task_id}/replies", create_reply, methods=["POST"], status_code=201)
    api.add_api_route("/tasks/{task_id}/thread", get_thread, methods=["GET"])


def reply_title(title: str) -> str:
    """``Re: <parent's title>`` (never ``Re: Re: ...``), cut to the column."""
    base = title if title.startswith("Re: ") else f"Re: {title}"
    return base[:TASK_TITLE_MAX]


async def thread_of(session: Any, task: Task) -> list[Task]:
    """The task's thread in order: its ancestors from the first task down, then every reply
    below that first task, each generation oldest first (at most ``THREAD_MAX`` tasks)."""
    chain = [task]
    while chain[0].parent_id and len(chain) < THREAD_MAX:
        parent = await session.get(Task, chain[0].parent_id)
        if parent is None or parent in chain:
            break
        chain.insert(0, parent)
    found: dict[str, Task] = {t.id: t for t in chain}
    level, seen = [chain[0].id], {chain[0].id}
    while level and len(found) < THREAD_MAX:
        rows = (await session.execute(
            select(Task).where(Task.parent_id.in_(level)).order_by(Task.created_at, Task.id).limit(THREAD_MAX)
        )).scalars().all()
        level = [t.id for t in rows if t.id not in seen]
        seen.update(level)
        found.update({t.id: t for t in rows})
    return sorted(found.values(), key=lambda t: (t.created_at, t.id))[:THREAD_MAX]


def busy_in_thread(thread: Sequence[Task], parent: Task) -> Task | None:
    """A task of the thread that has not ended (it uses the thread's worktree), the parent first."""
    if parent.status not in FINAL:
        return parent
    return next((t for t in thread if t.status not in FINAL), None)


async def _check_agent(session: Any, parent: Task) -> str | None:
    if parent.agent_id is None:
        return None
    agent = await session.get(Agent, parent.agent_id)
    if agent is None or agent.revoked_at is not None:
        name = agent.name if agent is not None else "its agent"
        raise HTTPException(409, detail=f"task {parent.id} ran on {name}, which was revoked: its worktree and "
                                        "conversation are on that server; create a new task instead")
    return agent.id


async def create_reply(task_id: str, body: TaskReply, hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    async with hub.store.write() as session:
        parent = await load_task(session, task_id, lock=True)
        busy = busy_in_thread(await thread_of(session, parent), parent)
        if busy is parent:
            raise HTTPException(409, detail=f"task {parent.id} is {parent.status}: a reply continues a task that has "
                                            "ended; wait for it (orchestratia tasks watch ID) or cancel it, then reply")
        if busy is not None:
            raise HTTPException(409, detail=f"task {busy.id} of this thread is {busy.status} in the same worktree: "
                                            "wait until it has ended, then reply to it")
        agent_id = await _check_agent(session, parent)
        resume = resume_of(parent)
        now = utcnow()
        task = Task(
            title=reply_title(parent.title), spec=body.message, target_repo=parent.target_repo or "",
            runner=parent.runner, timeout_minutes=parent.timeout_minutes, approval_policy=parent.approval_policy,
            workspace_request={"kind": resume["kind"]} if resume["kind"] else None,
            labels=parent.labels, priority=parent.priority or 0, parent_id=parent.id, resume=resume,
            agent_id=agent_id, status=(TaskStatus.ASSIGNED if agent_id else TaskStatus.QUEUED).value,
            assigned_at=now if agent_id else None, created_at=now, waiting_for_human=False, output_size=0,
        )
        session.add(task)
        await session.flush()
        emit(session, status_event(task))
        if not await offer_now(session, task):
            kick(session, agent_id)
    async with hub.store.read() as session:  # after the commit: the push is out (scheduler/offer.py)
        return await show(session, await load_task(session, task.id), hub)


async def get_thread(task_id: str, hub: Runtime = Depends(get_hub)) -> list[dict[str, Any]]:
    async with hub.store.read() as session:
        thread = await thread_of(session, await load_task(session, task_id))
        names = await agent_names(session, [t.agent_id for t in thread])
        reasons = await waiting_reasons(session, hub, thread)
    return with_reasons([task_view(t, names.get(t.agent_id or "")) for t in thread], reasons)
