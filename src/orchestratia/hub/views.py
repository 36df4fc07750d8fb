"""JSON shapes of the admin API objects (docs/architecture.md, "Objects") and of v1 payloads."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from orchestratia.protocol import AgentStatus, ResumeSpec, TaskPayload, whole_as_int
from orchestratia.protocol.admin import DEFAULT_RETRY_ON
from orchestratia.protocol.labels import auto_labels
from orchestratia.hub.store.models import Agent, Intervention, RegistrationToken, Task, TaskAttempt, utcnow


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def agent_status(agent: Agent, offline_after_s: float, now: datetime | None = None) -> AgentStatus:
    """REVOKED, else ONLINE within ``offline_after_s`` of the last contact, else OFFLINE. An agent
    that registered but never made contact (``last_seen_at`` null) is OFFLINE."""
    if agent.revoked_at is not None:
        return AgentStatus.REVOKED
    if agent.last_seen_at is None:
        return AgentStatus.OFFLINE
    now = now or utcnow()
    return AgentStatus.ONLINE if now - agent.last_seen_at <= timedelta(seconds=offline_after_s) else AgentStatus.OFFLINE


def agent_view(agent: Agent, offline_after_s: float, running_tasks: list[str]) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "hostname": agent.hostname,
        "ip": agent.ip,
        "os": agent.os,
        "status": agent_status(agent, offline_after_s).value,
        "last_seen_at": iso(agent.last_seen_at),
        "created_at": iso(agent.created_at),
        "system_info": agent.system_info or {},
        "repos": agent.repos or {},
        "runners": agent.runners,
        "labels": agent.labels or [],
        "agent_version": agent.agent_version,
        "max_concurrent_tasks": agent.max_concurrent_tasks,
        "running_tasks": running_tasks,
        "features": agent.features or [],
        "workspace_disk": agent.workspace_disk,
        "auto_labels": sorted(auto_labels(agent.os, agent.runners, agent.repos)),
    }


def task_view(task: Task, agent_name: str | None) -> dict[str, Any]:
    return {
        "id": task.id,
        "title": task.title,
        "spec": task.spec,
        "status": task.status,
        "agent": agent_name,
        "agent_id": task.agent_id,
        "target_repo": task.target_repo,
        "runner": task.runner,
        "timeout_minutes": whole_as_int(task.timeout_minutes),
        "approval_policy": task.approval_policy,
        "result": task.result,
        "error": task.error,
        "exit_code": task.exit_code,
        "waiting_for_human": bool(task.waiting_for_human),
        "output_size": task.output_size,
        "cancel_reason": task.cancel_reason,
        "created_at": iso(task.created_at),
        "assigned_at": iso(task.assigned_at),
        "started_at": iso(task.started_at),
        "finished_at": iso(task.finished_at),
        "workspace_request": task.workspace_request,
        "workspace": task.workspace,
        "failure_cause": task.failure_cause,
        "labels": task.labels or [],
        "priority": priority_name(task.priority),
        "parent_id": task.parent_id,
        "session_id": task.session_id,
        "parked_until": iso(task.parked_until),
        "pr_url": task.pr_url,
        "workspace_action": task.workspace_action,
        "group": task.group_name,
        "pipeline_id": task.pipeline_id,
        "pipeline_node": task.pipeline_node,
        **retry_cost_fields(task),
    }


def retry_cost_fields(task: Task) -> dict[str, Any]:
    """The task's retry policy and cost (migration 0011; docs/scheduling.md)."""
    return {
        "retry": task.retry or 0,
        "retry_on": list(task.retry_on if task.retry_on is not None else DEFAULT_RETRY_ON),
        "retry_at": iso(task.retry_at),
        "attempts": [],
        "max_cost_usd": task.max_cost_usd,
        "cost_usd": task.cost_usd,
        "input_tokens": task.input_tokens,
        "output_tokens": task.output_tokens,
    }


def attempt_view(item: TaskAttempt) -> dict[str, Any]:
    """One ended run (``protocol.admin.AttemptView``)."""
    return {
        "number": item.number, "agent": item.agent_name, "agent_id": item.agent_id, "status": item.status,
        "cause": item.cause, "error": item.error, "exit_code": item.exit_code,
        "assigned_at": iso(item.assigned_at), "started_at": iso(item.started_at), "finished_at": iso(item.finished_at),
        "output_start": item.output_start, "output_end": item.output_end,
        "cost_usd": item.cost_usd, "input_tokens": item.input_tokens, "output_tokens": item.output_tokens,
    }


PRIORITY_NAMES = {1: "high", 0: "normal", -1: "low"}


def priority_name(value: int | None) -> str:
    return PRIORITY_NAMES.get(value or 0, "normal")


def task_payload(task: Task) -> TaskPayload:
    """The task as ``poll`` returns it and ``task_assigned`` carries it."""
    return TaskPayload(
        id=task.id,
        title=task.title,
        spec=task.spec,
        target_repo=task.target_repo or "",
        status=task.status,
        runner=task.runner,
        timeout_minutes=task.timeout_minutes,
        created_at=task.created_at,
        approval_policy=task.approval_policy,
        workspace=(task.workspace_request or {}).get("kind"),
        base_ref=(task.workspace_request or {}).get("base_ref"),
        branch=(task.workspace_request or {}).get("branch"),
        resume=ResumeSpec.model_validate(task.resume) if task.resume else None,
        max_cost_usd=task.max_cost_usd,
        attempt=task.attempt or 1,
    )


def intervention_view(item: Intervention, task: Task | None, agent_name: str | None) -> dict[str, Any]:
    return {
        "id": item.id,
        "task_id": item.task_id,
        "task_title": task.title if task is not None else None,
        "agent": agent_name,
        "status": item.status,
        "question": item.question,
        "context": item.context,
        "response": item.response,
        "answered_by": item.answered_by,
        "created_at": iso(item.created_at),
        "answered_at": iso(item.answered_at),
        "kind": item.kind or "question",
        "tool_name": item.tool_name,
        "tool_input": item.tool_input,
        "withdrawn_at": iso(item.withdrawn_at),
    }


def intervention_payload(item: Intervention) -> dict[str, Any]:
    """v1 ``GET /interventions/{id}``."""
    return {
        "id": item.id,
        "task_id": item.task_id,
        "status": item.status,
        "question": item.question,
        "context": item.context,
        "response": item.response,
        "created_at": iso(item.created_at),
        "answered_at": iso(item.answered_at),
    }


def token_status(token: RegistrationToken, now: datetime | None = None) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.used_at is not None:
        return "used"
    if token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def token_view(token: RegistrationToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "label": token.label,
        "created_at": iso(token.created_at),
        "expires_at": iso(token.expires_at),
        "used_at": iso(token.used_at),
        "status": token_status(token),
        "agent_id": token.agent_id,
    }
