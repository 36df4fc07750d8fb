"""Admin API objects: ``TaskCreate`` keeps the hub's limits and messages, ``ApprovalPolicy`` is
the one spelling of the policies, and the read models parse the API's objects and give back
exactly the same JSON (timestamps included)."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest
from pydantic import ValidationError

from orchestratia.protocol import (
    AgentView,
    ApprovalPolicy,
    InterventionAnswer,
    InterventionView,
    LoginRequest,
    LoginResponse,
    TaskCancel,
    TaskCreate,
    TaskStatus,
    TaskView,
    TokenCreate,
    TokenCreated,
    TokenStatus,
    TokenView,
)

T, A, I = "0f6c1c1e-1111-4222-8333-944445555666", "a9a9a9a9-1111-4222-8333-944445555666", "i1i1"
WHEN = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=timezone.utc)
WHOLE = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


def test_approval_policy_values_and_text() -> None:
    assert [p.value for p in ApprovalPolicy] == ["none", "risky", "all"]
    assert f"{ApprovalPolicy.RISKY}" == "risky" and str(ApprovalPolicy.ALL) == "all"
    assert ApprovalPolicy("none") is ApprovalPolicy.NONE and ApprovalPolicy.RISKY == "risky"


def test_task_create_minimal_and_defaults() -> None:
    body = TaskCreate.model_validate_json('{"title": "t", "spec": "s", "unknown": 1}')
    assert body.model_dump() == {"title": "t", "spec": "s", "target_repo": "", "agent": None, "runner": None,
                                 "timeout_minutes": None, "approval_policy": None, "workspace": None,
                                 "base_ref": None, "branch": None, "labels": [], "priority": "normal", "group": None,
                                 "after": [], "retry": 0, "retry_on": None, "max_cost_usd": None}


def test_task_create_keeps_the_policy_as_its_plain_value() -> None:
    """The store column and the task object hold the string, as before."""
    body = TaskCreate(title="t", spec="s", approval_policy="risky", timeout_minutes=0.05)
    assert body.approval_policy == "risky" and type(body.approval_policy) is str
    assert body.timeout_minutes == 0.05
    assert TaskCreate(title="t", spec="s", approval_policy=ApprovalPolicy.ALL).approval_policy == "all"


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        ({"title": "", "spec": "s"}, "title", "String should have at least 1 character"),
        ({"title": "x" * 501, "spec": "s"}, "title", "String should have at most 500 characters"),
        ({"spec": "s"}, "title", "Field required"),
        ({"title": "t", "spec": ""}, "spec", "String should have at least 1 character"),
        ({"title": "t", "spec": "s", "target_repo": "r" * 201}, "target_repo", "String should have at most 200 characters"),
        ({"title": "t", "spec": "s", "agent": "a" * 201}, "agent", "String should have at most 200 characters"),
        ({"title": "t", "spec": "s", "runner": "r" * 51}, "runner", "String should have at most 50 characters"),
        ({"title": "t", "spec": "s", "timeout_minutes": 0}, "timeout_minutes", "Input should be greater than 0"),
        ({"title": "t", "spec": "s", "timeout_minutes": 10081}, "timeout_minutes",
         "Input should be less than or equal to 10080"),
        ({"title": "t", "spec": "s", "timeout_minutes": "soon"}, "timeout_minutes",
         "Input should be a valid number, unable to parse string as a number"),
        ({"title": "t", "spec": "s", "approval_policy": "maybe"}, "approval_policy",
         "Input should be 'none', 'risky' or 'all'"),
    ],
)
def test_task_create_messages(body: dict, where: str, message: str) -> None:
    """The hub's 422 detail is ``invalid request: <where>: <message>``: same as before the move."""
    with pytest.raises(ValidationError) as err:
        TaskCreate.model_validate_json(orjson.dumps(body))
    first = err.value.errors()[0]
    assert (".".join(map(str, first["loc"])), first["msg"]) == (where, message)


def test_task_create_refuses_infinite_timeout() -> None:
    with pytest.raises(ValidationError, match="Input should be a finite number"):
        TaskCreate(title="t", spec="s", timeout_minutes=float("inf"))
    assert TaskCreate(title="t", spec="s", timeout_minutes=10080).timeout_minutes == 10080


def test_other_bodies_limits() -> None:
    assert TokenCreate().model_dump() == {"label": "", "expires_in": "24h"}
    assert TaskCancel().reason is None
    for model, data in [
        (LoginRequest, {"username": "", "password": "p"}),
        (LoginRequest, {"username": "u", "password": "p" * 1001}),
        (TokenCreate, {"label": "l" * 201}),
        (TaskCancel, {"reason": "r" * 2001}),
        (InterventionAnswer, {"response": ""}),
        (InterventionAnswer, {"response": "r" * 100_001}),
    ]:
        with pytest.raises(ValidationError):
            model.model_validate(data)


def iso(value: datetime | None) -> str | None:  # as hub/views.py writes timestamps
    return value.isoformat() if value is not None else None


TASK = {
    "id": T, "title": "fix", "spec": "do it", "status": "completed", "agent": "dev-1", "agent_id": A,
    "target_repo": "api", "runner": "shell", "timeout_minutes": 30, "approval_policy": "risky",
    "result": {"summary": "ok"}, "error": None, "exit_code": 0, "waiting_for_human": False,
    "output_size": 14, "cancel_reason": None, "created_at": iso(WHOLE), "assigned_at": iso(WHEN),
    "started_at": iso(WHEN), "finished_at": iso(WHEN),
    "workspace_request": {"kind": "worktree", "base_ref": "main"},
    "workspace": {"kind": "worktree", "branch": "orchestratia/0f6c1aaa-fix", "base_ref": "main",
                  "base_commit": "a" * 40, "head_commit": "b" * 40, "files_changed": 1, "insertions": 2,
                  "deletions": 0, "committed": True, "note": ""},
    "failure_cause": None, "labels": ["gpu"], "priority": "high", "parent_id": None,
    "session_id": "4f6c1a52-8f7e-4b61-9d0a-2b6c0c1d9e11", "parked_until": None, "pr_url": None, "workspace_action": None,
    "group": "claude-team",
    "depends_on": [], "pipeline_id": None, "pipeline_node": None,
    "retry": 2, "retry_on": ["runner_failed", "timed_out"], "retry_at": None,
    "attempts": [{"number": 1, "agent": "dev-1", "agent_id": A, "status": "failed", "cause": "runner_failed",
                  "error": "exit 1", "exit_code": 1, "assigned_at": iso(WHEN), "started_at": iso(WHEN),
                  "finished_at": iso(WHEN), "output_start": 0, "output_end": 7, "cost_usd": 0.01,
                  "input_tokens": 100, "output_tokens": 20}],
    "max_cost_usd": 1.5, "cost_usd": 0.02, "input_tokens": 200, "output_tokens": 40,
}
QUEUED = {**TASK, "status": "queued", "session_id": None, "workspace_request": None, "workspace": None, "agent": None, "agent_id": None, "runner": None, "timeout_minutes": 0.05,
          "approval_policy": None, "result": None, "exit_code": None, "output_size": 0,
          "assigned_at": None, "started_at": None, "finished_at": None}
PARKED = {**TASK, "status": "parked", "parked_until": iso(WHOLE), "finished_at": None,
          "failure_cause": "usage_limit"}
AGENT = {
    "id": A, "name": "dev-1", "hostname": "box", "ip": "10.0.0.2", "os": "Linux", "status": "ONLINE",
    "last_seen_at": iso(WHEN), "created_at": iso(WHOLE), "system_info": {"cpus": 2},
    "repos": {"api": {"path": "/srv/api", "branch": "main"}, "web": "/srv/web"}, "runners": ["shell", "claude"],
    "labels": ["gpu"], "agent_version": "1.2.0", "max_concurrent_tasks": 2, "running_tasks": [T], "features": ["workspace_actions"],
    "workspace_disk": {"total_bytes": 4096, "worktrees": 1, "measured_at": "2026-12-06T06:00:00+00:00"},
    "auto_labels": ["os:linux", "repo:api", "runner:claude"],
}
NEVER_SEEN = {**AGENT, "status": "OFFLINE", "last_seen_at": None, "runners": None, "agent_version": None,
              "running_tasks": []}
INTERVENTION = {
    "id": I, "task_id": T, "task_title": "fix", "agent": "dev-1", "status": "answered", "question": "rm?",
    "context": None, "response": "no", "answered_by": "admin", "created_at": iso(WHEN), "answered_at": iso(WHEN),
    "kind": "approval", "tool_name": "Bash", "tool_input": {"command": "rm -rf build"}, "withdrawn_at": None,
}
TOKEN = {"id": I, "label": "box", "created_at": iso(WHEN), "expires_at": iso(WHOLE), "used_at": None,
         "status": "active", "agent_id": None}
CREATED = {**TOKEN, "token": "orcreg_x.y", "hub_url": "http://hub.test", "config_snippet": "hub_url: ...\n",
           "register_command": "orchestratia agent register orcreg_x.y"}


@pytest.mark.parametrize(
    ("model", "today"),
    [(TaskView, TASK), (TaskView, QUEUED), (TaskView, PARKED), (AgentView, AGENT), (AgentView, NEVER_SEEN),
     (InterventionView, INTERVENTION), (TokenView, TOKEN), (TokenCreated, CREATED),
     (LoginResponse, {"token": "s", "username": "admin", "expires_at": iso(WHEN)})],
)
def test_read_model_round_trips_the_api_json(model, today: dict) -> None:
    parsed = model.model_validate_json(orjson.dumps(today))
    assert parsed.model_dump(mode="json") == today
    assert list(parsed.model_dump(mode="json")) == list(today)
    assert orjson.dumps(parsed.model_dump(mode="json")) == orjson.dumps(today)


def test_read_models_give_typed_values_and_ignore_additions() -> None:
    task = TaskView.model_validate({**TASK, "a_later_field": 1})
    assert task.status is TaskStatus.COMPLETED and task.finished_at == WHEN
    assert TokenView.model_validate(TOKEN).status is TokenStatus.ACTIVE


def test_built_from_store_values_the_json_is_what_views_write() -> None:
    """The hub can build a view from its row's datetimes: timestamps stay ``isoformat()``
    (``+00:00``, not pydantic's ``Z``), whole minutes stay integers."""
    view = TaskView.model_validate({**TASK, "created_at": WHOLE, "started_at": WHEN, "timeout_minutes": 30.0})
    dumped = view.model_dump(mode="json")
    assert dumped["created_at"] == "2025-03-04T05:06:07+00:00"
    assert dumped["started_at"] == "2025-03-04T05:06:07.123456+00:00"
    assert dumped["timeout_minutes"] == 30 and isinstance(dumped["timeout_minutes"], int)


@pytest.mark.parametrize(
    ("model", "data", "says"),
    [
        (TaskView, {**TASK, "status": "done"}, "status\n  Input should be 'queued'"),
        (AgentView, {**AGENT, "status": "online"}, "Input should be 'ONLINE', 'OFFLINE' or 'REVOKED'"),
        (TokenView, {**TOKEN, "status": "gone"}, "Input should be 'active', 'used', 'expired' or 'revoked'"),
        (InterventionView, {k: v for k, v in INTERVENTION.items() if k != "question"}, "question\n  Field required"),
    ],
)
def test_read_models_refuse_what_the_api_never_sends(model, data: dict, says: str) -> None:
    with pytest.raises(ValidationError) as err:
        model.model_validate(data)
    assert says in str(err.value)
