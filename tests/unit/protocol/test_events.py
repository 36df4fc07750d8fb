"""Hub events: each model's JSON is exactly the dict the hub published before the models
existed (so wiring them in changes nothing an SSE client or the dashboard sees), parses back to
the same event, and names its channel; anything else fails clearly."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from orchestratia.protocol import (
    AgentEvent,
    AgentStatus,
    InterventionEvent,
    TaskEvent,
    TaskOutputEvent,
    TaskStatusEvent,
    TokenEvent,
    channel_of,
    parse_event,
)

T, A, I = "0f6c1c1e-1111-4222-8333-944445555666", "a9a9a9a9-1111-4222-8333-944445555666", "i1i1"

# (channel, the dict literal the hub builds today, the model that replaces it)
TODAY = [
    ("hub", {"kind": "task", "id": T, "status": "assigned", "agent_id": A},
     TaskEvent(id=T, status="assigned", agent_id=A)),
    ("hub", {"kind": "task", "id": T, "status": "queued", "agent_id": None},
     TaskEvent(id=T, status="queued", agent_id=None)),
    (f"task:{T}", {"kind": "status", "status": "running"}, TaskStatusEvent(task_id=T, status="running")),
    ("hub", {"kind": "intervention", "id": I, "status": "cancelled", "task_id": T},
     InterventionEvent(id=I, status="cancelled", task_id=T)),
    ("hub", {"kind": "intervention", "id": I, "status": "pending", "task_id": T},
     InterventionEvent(id=I, status="pending", task_id=T)),
    ("hub", {"kind": "intervention", "id": I, "status": "withdrawn", "task_id": T},
     InterventionEvent(id=I, status="withdrawn", task_id=T)),
    ("hub", {"kind": "agent", "id": A, "status": "REVOKED"}, AgentEvent(id=A, status=AgentStatus.REVOKED)),
    ("hub", {"kind": "agent", "id": A, "status": "ONLINE"}, AgentEvent(id=A, status="ONLINE")),
    ("hub", {"kind": "agent", "id": A, "status": "OFFLINE"}, AgentEvent(id=A, status="OFFLINE")),
    ("hub", {"kind": "token", "id": A, "status": "active"}, TokenEvent(id=A, status="active")),
    ("hub", {"kind": "token", "id": A, "status": "revoked"}, TokenEvent(id=A, status="revoked")),
    (f"task:{T}", {"kind": "output", "offset": 8, "length": 6, "stream": "stdout", "text": "three\n"},
     TaskOutputEvent(task_id=T, offset=8, length=6, stream="stdout", text="three\n")),
]


@pytest.mark.parametrize(("channel", "today", "event"), TODAY, ids=[f"{c}-{d['kind']}" for c, d, _ in TODAY])
def test_event_json_is_exactly_todays_dict(channel: str, today: dict, event) -> None:
    assert event.to_dict() == today
    assert list(event.to_dict()) == list(today)  # same key order: same bytes on the bus
    assert orjson.dumps(event.to_dict()) == orjson.dumps(today)
    assert channel_of(event) == event.channel == channel


@pytest.mark.parametrize(("channel", "today", "event"), TODAY, ids=[f"{c}-{d['kind']}" for c, d, _ in TODAY])
def test_todays_dict_parses_to_the_event(channel: str, today: dict, event) -> None:
    assert parse_event(orjson.dumps(today), channel=channel) == event
    assert parse_event(json.dumps(today), channel=channel) == event
    assert parse_event(today, channel=channel) == event  # what a bus subscription hands over


def test_a_task_channel_event_knows_its_channel_only_when_told() -> None:
    event = parse_event('{"kind": "status", "status": "completed"}')
    assert event.task_id is None
    with pytest.raises(ValueError, match="pass channel= to parse_event"):
        channel_of(event)
    assert channel_of(parse_event('{"kind": "status", "status": "completed"}', channel="task:x")) == "task:x"


def test_status_of_the_store_row_becomes_the_enum_and_back() -> None:
    # the hub passes task.status as read from the store (a plain str)
    event = TaskEvent(id=T, status="running", agent_id=A)
    assert event.status.value == "running" and event.to_dict()["status"] == "running"


def test_output_event_of_bytes_and_its_sse_data() -> None:
    """What the hub publishes for stored bytes, and the task stream's ``output`` data."""
    data = "é\n".encode() + b"\xff"
    event = TaskOutputEvent.of_bytes(T, 14, data, "stderr")
    assert event.to_dict() == {"kind": "output", "offset": 14, "length": 4, "stream": "stderr",
                               "text": data.decode("utf-8", errors="replace")}
    assert event.sse_data() == {"offset": 14, "length": 4, "stream": "stderr", "text": "é\n\ufffd"}
    assert list(event.sse_data()) == ["offset", "length", "stream", "text"]
    assert event.channel == f"task:{T}"


def test_events_are_frozen_and_ignore_unknown_fields() -> None:
    event = parse_event({"kind": "agent", "id": A, "status": "ONLINE", "later": 1})
    assert event == AgentEvent(id=A, status="ONLINE")
    with pytest.raises(ValidationError):
        event.status = "OFFLINE"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ('{"kind": "tasks", "id": "x", "status": "queued", "agent_id": null}',
         "Input tag 'tasks' found using 'kind' does not match any of the expected tags"),
        ('{"type": "task_assigned"}', "Unable to extract tag using discriminator 'kind'"),
        ('{"kind": "task", "id": "x", "status": "done", "agent_id": null}', "Input should be 'queued'"),
        ('{"kind": "task", "id": "x", "status": "queued"}', "agent_id\n  Field required"),
        ('{"kind": "output", "offset": -1, "length": 0, "stream": "stdout", "text": ""}',
         "greater than or equal to 0"),
        ("not json", "Invalid JSON"),
    ],
)
def test_bad_events_fail_clearly(data: str, says: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_event(data)
    assert says in str(err.value)


def test_an_emit_site_cannot_forget_the_agent_of_a_task_event() -> None:
    """``assigned_index`` notes agents from ``assigned`` task events: a missing agent_id is an
    error where the event is made, not a task silently never handed out."""
    with pytest.raises(ValidationError, match="agent_id"):
        TaskEvent(id=T, status="assigned")  # type: ignore[call-arg]


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
shaped = st.builds(
    lambda kind, extra: {"kind": kind, **extra},
    st.sampled_from(["task", "agent", "intervention", "token", "status", "output", "", "x"]),
    st.dictionaries(st.sampled_from(["id", "status", "agent_id", "task_id", "offset", "length", "stream", "text"]),
                    json_values, max_size=6),
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(shaped, json_values))
def test_parse_event_raises_only_validation_error(value) -> None:
    try:
        parse_event(json.dumps(value), channel="task:t")
    except ValidationError:
        pass
