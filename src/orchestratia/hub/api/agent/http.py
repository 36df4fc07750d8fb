"""The v1 agent API (PROTOCOL.md), served exactly as written: prefix ``/api/v1/agents``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol import (
    API_PREFIX,
    FAIL_REASON_TIMEOUT,
    FAIL_REASON_USAGE_LIMIT,
    CompleteRequest,
    FailRequest,
    HeartbeatRequest,
    HelpRequest,
    InterventionStatus,
    RegisterRequest,
    TaskStatus,
    can_transition,
    new_api_key,
)
from orchestratia.protocol.events import AgentEvent, InterventionEvent, TaskEvent
from orchestratia.protocol.pushes import message_dict
from orchestratia.protocol.wire import CONVERSATION_ID_PATTERN
from orchestratia.protocol.shared import is_uuid
from orchestratia.hub.agent_names import live_holder, retire_key
from orchestratia.hub.api.agent import workspace
from orchestratia.hub.attempts import end_run
from orchestratia.hub.budgets import note_spend
from orchestratia.hub.costs import RunCost, run_cost
from orchestratia.hub.retries import infer_cause
from orchestratia.hub.api.deps import current_agent, get_hub
from orchestratia.hub.api.responses import OrjsonResponse
from orchestratia.hub.auth import hash_secret
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.scheduler.parking import finish_park, park_fields, park_target
from orchestratia.hub.states import TransitionConflict, emit, transition
from orchestratia.hub.store.models import Agent, Intervention, RegistrationToken, Task, utcnow
from orchestratia.hub.store.queries import agent_task, offerable_tasks
from orchestratia.hub.views import agent_status, intervention_payload, task_payload, token_status

NOT_FOUND = "task not found"
#: the ``exit_code`` column is a 32-bit integer (PostgreSQL's ``integer``); exit statuses fit
EXIT_CODE_MIN, EXIT_CODE_MAX = -(2**31), 2**31 - 1
#: column sizes (``store/models.py``) of what an agent sends about itself
AGENT_TEXT_LIMITS = {"hostname": 500, "ip": 100, "os": 500, "agent_version": 100}
CONVERSATION_ID = re.compile(CONVERSATION_ID_PATTERN)


def router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX, tags=["agent v1"], default_response_class=OrjsonResponse)
    api.add_api_route("/register", register, methods=["POST"])
    api.add_api_route("/heartbeat", heartbeat, methods=["POST"])
    api.add_api_route("/tasks/poll", poll, methods=["GET"])
    api.add_api_route("/tasks/{task_id}/start", start, methods=["POST"])
    api.add_api_route("/tasks/{task_id}/complete", complete, methods=["POST"])
    api.add_api_route("/tasks/{task_id}/fail", fail, methods=["POST"])
    api.add_api_route("/tasks/{task_id}/help", help_request, methods=["POST"], status_code=201,
                      responses={200: {"description": "a repeated request_id: the intervention it already made"}})
    api.add_api_route("/interventions/{intervention_id}", get_intervention, methods=["GET"])
    api.add_api_route("/interventions/{intervention_id}/withdraw", withdraw_intervention, methods=["POST"])
    api.add_api_route("/tasks/{task_id}/workspace", workspace.report_workspace, methods=["POST"])
    return api


# ---------------------------------------------------------------------------- register


async def register(body: RegisterRequest, request: Request, hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    """One-use token → a new agent, or a re-registration of the agent with that name: refused
    (409) while a live agent holds it (``agent_names``) unless the body says ``replace``."""
    for name, limit in AGENT_TEXT_LIMITS.items():
        if len(getattr(body, name) or "") > limit:
            raise HTTPException(422, detail=f"invalid request: {name}: at most {limit} characters")
    if not body.ip and request.client is not None:
        body = body.model_copy(update={"ip": request.client.host})
    api_key = new_api_key()
    now = utcnow()
    token_hash = hash_secret(body.registration_token)
    try:
        async with hub.store.write() as session:
            consumed = await session.execute(
                update(RegistrationToken)
                .where(
                    RegistrationToken.token_hash == token_hash,
                    RegistrationToken.used_at.is_(None),
                    RegistrationToken.revoked_at.is_(None),
                    RegistrationToken.expires_at > now,
                )
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            if consumed.rowcount != 1:
                raise HTTPException(401, detail=await _token_problem(session, token_hash))
            # the token is checked first, so names cannot be probed without one; a refusal rolls
            # the transaction back, which leaves the token unused
            existing = (await session.execute(select(Agent).where(Agent.name == body.name))).scalar_one_or_none()
            replaced = existing is not None and existing.revoked_at is None
            if replaced:
                holder = None if body.replace else await live_holder(session, hub, existing)
                if holder is not None:
                    raise HTTPException(409, detail=holder.refusal())
                await retire_key(session, existing, now)
            agent = await _upsert_agent(session, body, api_key, now, existing)
            await session.execute(
                update(RegistrationToken)
                .where(RegistrationToken.token_hash == token_hash)
                .values(agent_id=agent.id)
                .execution_options(synchronize_session=False)
            )
            # registration is not contact: a new agent is OFFLINE (never seen) until its daemon's
            # first authenticated request or WebSocket, which makes it ONLINE (Liveness.touch)
            status = agent_status(agent, hub.settings.offline_after_s)
            emit(session, AgentEvent(id=agent.id, status=status))
    except IntegrityError as exc:
        raise HTTPException(409, detail=f"agent name {body.name!r} was registered concurrently; retry") from exc
    hub.liveness.forget(agent.id)  # a re-registration rotated the key: the old one must stop working
    return {"id": agent.id, "name": agent.name, "api_key": api_key, "replaced": replaced}


async def _token_problem(session: AsyncSession, token_hash: str) -> str:
    token = (
        await session.execute(select(RegistrationToken).where(RegistrationToken.token_hash == token_hash))
    ).scalar_one_or_none()
    if token is None:
        return "registration token unknown: create a new one (orchestratia tokens create)"
    status = token_status(token)
    if status == "used":
        return "registration token already used: tokens work once; create a new one"
    if status == "revoked":
        return "registration token revoked: create a new one"
    return "registration token expired: create a new one"


async def _upsert_agent(session: AsyncSession, body: RegisterRequest, api_key: str, now: Any,
                        agent: Agent | None) -> Agent:
    if agent is None:
        agent = Agent(name=body.name, created_at=now)
        session.add(agent)
    agent.api_key_hash = hash_secret(api_key)  # re-registration rotates the key
    agent.revoked_at = None
    agent.hostname, agent.ip, agent.os = body.hostname, body.ip, body.os
    agent.repos = body.repos
    agent.system_info = body.system_info
    agent.labels = body.labels
    agent.runners = body.runners
    agent.agent_version = body.agent_version
    agent.max_concurrent_tasks = body.max_concurrent_tasks or 2
    # last_seen_at stays as it was (None for a new agent): registering is not contact
    await session.flush()
    return agent


# ---------------------------------------------------------------------------- liveness, poll


async def heartbeat(
    body: HeartbeatRequest | None = Body(default=None),
    agent: Agent = Depends(current_agent),
    hub: Runtime = Depends(get_hub),
) -> dict[str, str]:
    body = body or HeartbeatRequest()
    values: dict[str, Any] = {"system_info": body.system_info}
    if body.agent_version:  # cut to its column: a heartbeat is contact, never refused for this
        values["agent_version"] = body.agent_version[: AGENT_TEXT_LIMITS["agent_version"]]
    if body.workspace_disk is not None:  # extension: the disk its task worktrees use
        values["workspace_disk"] = body.workspace_disk.model_dump(mode="json")
    # written with the next batch of contacts. No scheduler kick: pushes go out on hello, task
    # creation and task end, and a connection never gets the same task_assigned twice anyway.
    await hub.liveness.touch(agent, **values)
    return {"status": "ok"}


async def poll(agent: Agent = Depends(current_agent), hub: Runtime = Depends(get_hub)) -> list[dict[str, Any]]:
    """Assigned tasks this agent has not started and has room for, oldest first."""
    if not hub.assigned.may_have(agent.id):  # nothing assigned to it: no store read
        return []
    epoch = hub.assigned.epoch
    async with hub.store.read() as session:  # ``agent`` was read by the key lookup a moment ago
        tasks, has_assigned = await offerable_tasks(session, agent, with_flag=True)
    if not has_assigned:
        hub.assigned.found_none(agent.id, epoch)
    return [message_dict(task_payload(task)) for task in tasks]


# ---------------------------------------------------------------------------- transitions


async def _move(
    hub: Runtime, agent: Agent, task_id: str, target: TaskStatus | Callable[[Task], TaskStatus],
    first_account: bool = False, failure: FailRequest | None = None, run: RunCost | None = None, **fields: Any
) -> dict[str, Any]:
    """``first_account``: on a repeat, the fields are kept when the task has no exit status yet
    (the hub's timeout ended it first; the agent's report says how the runner ended).
    ``failure``: a fail report, whose run may be rerun (``attempts.end_run``)."""
    async with hub.store.write() as session:
        task = await agent_task(session, agent.id, task_id, lock=True)
        if task is None:
            raise HTTPException(404, detail=NOT_FOUND)
        if (failure is not None and failure.reason == FAIL_REASON_TIMEOUT and task.status == TaskStatus.ASSIGNED.value
                and (task.attempt or 1) > 1):
            # the hub re-queued the timed-out run and gave the task to this agent again: the
            # report is the old run's, not the new one's
            raise HTTPException(409, detail="task is assigned again (a rerun): the timed-out run's report is late")
        if callable(target):
            target = target(task)
        try:
            if failure is not None and task.status != target.value and can_transition(TaskStatus(task.status), target):
                cause = infer_cause(task.status, sent=failure.cause, reason=failure.reason,
                                    exit_code=failure.exit_code, result=failure.result)
                await end_run(session, task, target, cause, settings=hub.settings, run=run, **fields)
                changed = True
            else:
                changed = await transition(session, task, target, run=run, **fields)
        except TransitionConflict as exc:
            raise HTTPException(409, detail=exc.detail) from exc
        if changed and run is not None and run.cost_usd:
            await note_spend(session, utcnow())
        if not changed and first_account and task.exit_code is None and "exit_code" in fields:
            for name, value in fields.items():
                setattr(task, name, value)
        status = task.status
    return {"id": task_id, "status": status, "changed": changed}


async def start(task_id: str, agent: Agent = Depends(current_agent), hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    # a rerun starts clean: the failed run's error, result and cause stay in its attempt row
    return await _move(hub, agent, task_id, TaskStatus.RUNNING, error=None, result=None, failure_cause=None)


async def complete(
    task_id: str,
    body: CompleteRequest | None = Body(default=None),
    agent: Agent = Depends(current_agent),
    hub: Runtime = Depends(get_hub),
) -> dict[str, Any]:
    body = body or CompleteRequest()
    exit_code = body.result.get("exit_code")
    fields: dict[str, Any] = {"result": body.result, "failure_cause": None, **conversation(body.result)}
    if isinstance(exit_code, int) and not isinstance(exit_code, bool) and EXIT_CODE_MIN <= exit_code <= EXIT_CODE_MAX:
        fields["exit_code"] = exit_code  # (one that does not fit stays in result only)
    return await _move(hub, agent, task_id, TaskStatus.COMPLETED, run=run_cost(body.result), **fields)


async def fail(
    task_id: str,
    body: FailRequest | None = Body(default=None),
    agent: Agent = Depends(current_agent),
    hub: Runtime = Depends(get_hub),
) -> dict[str, Any]:
    body = body or FailRequest()
    if body.exit_code is not None and not EXIT_CODE_MIN <= body.exit_code <= EXIT_CODE_MAX:
        raise HTTPException(422, detail=f"invalid request: exit_code: an exit status, {EXIT_CODE_MIN}..{EXIT_CODE_MAX}")
    fields: dict[str, Any] = {"error": body.error or "failed (no error message)"}
    if body.exit_code is not None:
        fields["exit_code"] = body.exit_code
    if body.result is not None:
        fields["result"] = body.result
        fields.update(conversation(body.result))
    if body.reason == FAIL_REASON_USAGE_LIMIT:  # extension: parked until the limit resets
        return await _park(hub, agent, task_id, body.resets_at, fields)
    run = run_cost(body.result)
    if body.reason == FAIL_REASON_TIMEOUT:  # extension: the daemon's own timeout stopped it
        return await _move(hub, agent, task_id, _timed_out_if_running, first_account=True, failure=body, run=run,
                           **fields)
    return await _move(hub, agent, task_id, TaskStatus.FAILED, failure=body, run=run, **fields)


async def _park(hub: Runtime, agent: Agent, task_id: str, resets_at: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """A running task stopped by its CLI's usage limit becomes ``parked`` until the reset
    (scheduler/parking.py); from any other status the report is an ordinary fail."""
    async with hub.store.write() as session:
        task = await agent_task(session, agent.id, task_id, lock=True)
        if task is None:
            raise HTTPException(404, detail=NOT_FOUND)
        try:
            changed = await transition(session, task, park_target(task),
                                       **fields, **park_fields(task, resets_at, utcnow()))
        except TransitionConflict as exc:
            raise HTTPException(409, detail=exc.detail) from exc
        if changed:
            finish_park(task)
        status = task.status
    return {"id": task_id, "status": status, "changed": changed}


def conversation(result: dict[str, Any] | None) -> dict[str, Any]:
    """``{"session_id": ...}`` when the run's result names its CLI conversation (our daemon
    sends ``result.session_id``: Claude Code's ``session_id``, Codex's ``thread_id``) in a form
    a daemon may put on a command line; else nothing (an old daemon's result has none)."""
    value = (result or {}).get("session_id")
    if isinstance(value, str) and CONVERSATION_ID.match(value):
        return {"session_id": value}
    return {}


def _timed_out_if_running(task: Task) -> TaskStatus:
    """``timed_out`` for a running task (and a repeat); from any other status the report is an
    ordinary fail (``lost`` takes a late report as ``failed``; a finished task answers 409)."""
    timed_out = task.status in (TaskStatus.RUNNING.value, TaskStatus.TIMED_OUT.value)
    return TaskStatus.TIMED_OUT if timed_out else TaskStatus.FAILED


# ---------------------------------------------------------------------------- interventions


async def help_request(
    task_id: str,
    body: HelpRequest,
    response: Response,
    agent: Agent = Depends(current_agent),
    hub: Runtime = Depends(get_hub),
) -> dict[str, Any]:
    """201 with a new pending intervention; with a ``request_id`` (extension) that this task
    already used, 200 with that intervention instead (its current status), never a second one."""
    try:
        item, created = await _create_help(hub, agent, task_id, body)
    except IntegrityError:  # a concurrent duplicate of this request_id won the insert
        item = await _help_by_request_id(hub, agent, task_id, body.request_id) if body.request_id else None
        if item is None:
            raise
        created = False
    if not created:
        response.status_code = 200
    return {"id": item.id, "intervention_id": item.id, "status": item.status}


async def _create_help(hub: Runtime, agent: Agent, task_id: str, body: HelpRequest) -> tuple[Intervention, bool]:
    async with hub.store.write() as session:
        task = await agent_task(session, agent.id, task_id, lock=True)
        if task is None:
            raise HTTPException(404, detail=NOT_FOUND)
        if body.request_id:  # after the task's row lock: a concurrent twin has committed or waits
            existing = await _intervention_for_request(session, task.id, body.request_id)
            if existing is not None:
                return existing, False
        if task.status != TaskStatus.RUNNING.value:
            raise HTTPException(409, detail=f"task is {task.status}: help can be asked only while it is running")
        item = Intervention(task_id=task.id, question=body.question, context=body.context,
                            kind=body.kind or "question", tool_name=body.tool_name,
                            tool_input=body.tool_input if body.kind == "approval" else None,
                            request_id=body.request_id)
        session.add(item)
        task.waiting_for_human = True
        await session.flush()
        emit(session, InterventionEvent(id=item.id, status=InterventionStatus.PENDING, task_id=task.id))
        emit(session, TaskEvent(id=task.id, status=task.status, agent_id=agent.id))
    return item, True


async def _intervention_for_request(session: AsyncSession, task_id: str, request_id: str) -> Intervention | None:
    query = select(Intervention).where(Intervention.task_id == task_id, Intervention.request_id == request_id)
    return (await session.execute(query)).scalar_one_or_none()


async def _help_by_request_id(hub: Runtime, agent: Agent, task_id: str, request_id: str) -> Intervention | None:
    async with hub.store.read() as session:
        task = await agent_task(session, agent.id, task_id)
        return None if task is None else await _intervention_for_request(session, task.id, request_id)


async def _agent_intervention(
    session: AsyncSession, agent: Agent, intervention_id: str, *, lock: bool = False
) -> tuple[Intervention, Task]:
    """The intervention and its task when the task is this agent's (else 404: ids cannot be probed)."""
    row = None
    if is_uuid(intervention_id):
        query = (
            select(Intervention, Task)
            .join(Task, Task.id == Intervention.task_id)
            .where(Intervention.id == intervention_id, Task.agent_id == agent.id)
        )
        if lock:
            query = query.with_for_update(of=Intervention)
        row = (await session.execute(query)).first()
    if row is None:
        raise HTTPException(404, detail="intervention not found")
    return row[0], row[1]


async def get_intervention(
    intervention_id: str, agent: Agent = Depends(current_agent), hub: Runtime = Depends(get_hub)
) -> dict[str, Any]:
    async with hub.store.read() as session:
        item, _ = await _agent_intervention(session, agent, intervention_id)
    return intervention_payload(item)


async def withdraw_intervention(
    intervention_id: str, agent: Agent = Depends(current_agent), hub: Runtime = Depends(get_hub)
) -> dict[str, Any]:
    """Extension: the agent stopped waiting. pending -> withdrawn (200; a repeat answers 200
    again); answered or cancelled -> 409 naming the status (the agent reads the answer then)."""
    async with hub.store.write() as session:
        item, task = await _agent_intervention(session, agent, intervention_id, lock=True)
        await session.refresh(item)
        if item.status == InterventionStatus.WITHDRAWN.value:
            return intervention_payload(item)
        if item.status != InterventionStatus.PENDING.value:
            raise HTTPException(409, detail=f"intervention already {item.status}: it can no longer be withdrawn")
        item.status = InterventionStatus.WITHDRAWN.value
        item.withdrawn_at = utcnow()
        await session.flush()
        task.waiting_for_human = await _still_waiting(session, task.id)
        emit(session, InterventionEvent(id=item.id, status=item.status, task_id=task.id))
        emit(session, TaskEvent(id=task.id, status=task.status, agent_id=agent.id))
        return intervention_payload(item)


async def _still_waiting(session: AsyncSession, task_id: str) -> bool:
    query = select(Intervention.id).where(
        Intervention.task_id == task_id, Intervention.status == InterventionStatus.PENDING.value
    )
    return (await session.execute(query.limit(1))).first() is not None
