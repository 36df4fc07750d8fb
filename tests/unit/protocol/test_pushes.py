"""Hub → agent pushes and messages: the ``Ws*`` models give exactly the JSON the hub sends
today (so wiring them in changes nothing a deployed daemon receives), ``revoked`` is part of
the contract, and our daemon's parser reads every push the hub makes."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest
from pydantic import ValidationError

from orchestratia.protocol import (
    ResumeTask,
    TaskPayload,
    WsAck,
    WsAuthError,
    WsAuthOk,
    WsError,
    WsInterventionAnswered,
    WsPong,
    WsResend,
    WsResume,
    WsRevoked,
    WsTaskAssigned,
    WsTaskCancel,
    agent_channel,
    message_dict,
    parse_hub_message,
    parse_push,
)

T, A, I = "0f6c1c1e-1111-4222-8333-944445555666", "a9a9a9a9-1111-4222-8333-944445555666", "i1i1"
CREATED = datetime(2025, 3, 4, 5, 6, 7, 89, tzinfo=timezone.utc)


def payload(**fields) -> TaskPayload:
    """As ``hub.views.task_payload`` builds it from a task row."""
    base = dict(id=T, title="fix", spec="do it", target_repo="", status="assigned", runner=None,
                timeout_minutes=None, created_at=CREATED, approval_policy=None)
    return TaskPayload(**{**base, **fields})


@pytest.mark.parametrize(
    "task",
    [payload(), payload(runner="shell", timeout_minutes=30.0, approval_policy="risky"), payload(timeout_minutes=0.05)],
)
def test_task_assigned_is_todays_dict(task: TaskPayload) -> None:
    today = {"type": "task_assigned", "task": task.model_dump(mode="json")}
    push = WsTaskAssigned(task=task)
    assert message_dict(push) == today
    assert orjson.dumps(message_dict(push)) == orjson.dumps(today)
    assert parse_push(orjson.dumps(today)) == push
    assert parse_push(today) == push


def test_task_assigned_keeps_nulls_and_whole_minutes_as_integers() -> None:
    """v1 daemons got ``"runner": null`` and integer minutes: still so."""
    sent = orjson.loads(orjson.dumps(message_dict(WsTaskAssigned(task=payload(timeout_minutes=30.0)))))
    assert sent["task"]["runner"] is None and sent["task"]["approval_policy"] is None
    assert sent["task"]["timeout_minutes"] == 30 and isinstance(sent["task"]["timeout_minutes"], int)
    assert sent["task"]["created_at"] == "2025-03-04T05:06:07.000089Z"


# (the dict literal the hub sends today, the model that replaces it)
TODAY = [
    ({"type": "task_cancel", "task_id": T, "reason": "cancelled by admin"},
     WsTaskCancel(task_id=T, reason="cancelled by admin")),
    ({"type": "task_cancel", "task_id": T, "reason": "timed out after 0.05 minutes"},
     WsTaskCancel(task_id=T, reason="timed out after 0.05 minutes")),
    ({"type": "intervention_answered", "intervention_id": I, "task_id": T, "response": "yes"},
     WsInterventionAnswered(intervention_id=I, task_id=T, response="yes")),
    ({"type": "revoked"}, WsRevoked()),
]


@pytest.mark.parametrize(("today", "push"), TODAY, ids=[d["type"] for d, _ in TODAY])
def test_push_is_todays_dict(today: dict, push) -> None:
    assert message_dict(push) == today and list(message_dict(push)) == list(today)
    assert parse_push(orjson.dumps(today)) == push


@pytest.mark.parametrize(
    ("today", "message"),
    [
        ({"type": "auth_ok", "agent_id": A}, WsAuthOk(agent_id=A)),
        ({"type": "auth_error", "detail": "unknown API key"}, WsAuthError(detail="unknown API key")),
        ({"type": "pong"}, WsPong()),
        ({"type": "error", "detail": "invalid JSON: message ignored"}, WsError(detail="invalid JSON: message ignored")),
        ({"type": "resume", "tasks": [{"task_id": T, "next_offset": 0}, {"task_id": A, "next_offset": 99}]},
         WsResume(tasks=[ResumeTask(task_id=T, next_offset=0), ResumeTask(task_id=A, next_offset=99)])),
        ({"type": "resume", "tasks": []}, WsResume(tasks=[])),
        ({"type": "ack", "task_id": T, "next_offset": 14}, WsAck(task_id=T, next_offset=14)),
        ({"type": "resend", "task_id": T, "from_offset": 8}, WsResend(task_id=T, from_offset=8)),
    ],
    ids=lambda v: v["type"] if isinstance(v, dict) else "",
)
def test_direct_hub_messages_are_todays_dicts(today: dict, message) -> None:
    """What ``/ws/agent`` sends on the socket itself (not through the bus)."""
    assert message_dict(message) == today and list(message_dict(message)) == list(today)
    assert parse_hub_message(orjson.dumps(today)) == message


def test_our_daemon_parses_every_push_including_revoked() -> None:
    for today, push in TODAY:
        assert parse_hub_message(orjson.dumps(today)) == push
    assert parse_hub_message(orjson.dumps(message_dict(WsTaskAssigned(task=payload())))) == WsTaskAssigned(task=payload())


def test_agent_channel() -> None:
    assert agent_channel(A) == f"agent:{A}"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ('{"type": "task_assign", "task": {}}', "Input tag 'task_assign' found using 'type' does not match"),
        ('{"type": "pong"}', "Input tag 'pong' found using 'type' does not match"),  # a reply, not a push
        ('{"kind": "task"}', "Unable to extract tag using discriminator 'type'"),
        ('{"type": "task_cancel"}', "task_id\n  Field required"),
        ('{"type": "task_assigned", "task": {"id": "x"}}', "task.title\n  Field required"),
    ],
)
def test_bad_pushes_fail_clearly(data: str, says: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_push(data)
    assert says in str(err.value)
