"""Task output: the offset rules, byte-exact storage."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orchestratia.hub.task_output import DUPLICATE, GAP, NOT_FOUND, STORED, append_output
from orchestratia.hub.store.models import OutputChunk

from .helpers import Api, agent_and_running_task


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_output_offset_rules(api: Api, hub) -> None:
    agent, task = await agent_and_running_task(api)
    tid, aid = task["id"], agent["id"]
    assert (await append_output(hub.store, aid, tid, b"hello ", offset=0)).status == STORED
    assert (await append_output(hub.store, aid, tid, b"hello ", offset=0)) .status == DUPLICATE
    gap = await append_output(hub.store, aid, tid, b"zzz", offset=100)
    assert (gap.status, gap.next_offset) == (GAP, 6)
    overlap = await append_output(hub.store, aid, tid, b"o world", offset=4)  # "o " already held
    assert (overlap.status, overlap.next_offset) == (STORED, 11)
    v1 = await append_output(hub.store, aid, tid, "\n✓".encode(), offset=None)
    assert (v1.status, v1.next_offset) == (STORED, 11 + len("\n✓".encode()))
    assert (await append_output(hub.store, "someone-else", tid, b"x")).status == NOT_FOUND
    r = await api.client.get(f"/api/admin/tasks/{tid}/output", headers=api.headers)
    assert r.content == "hello world\n✓".encode()
    assert r.headers["X-Next-Offset"] == str(len(r.content))
    r = await api.client.get(f"/api/admin/tasks/{tid}/output?offset=6", headers=api.headers)
    assert r.content == "world\n✓".encode()
    async with hub.store.read() as session:
        chunks = (await session.execute(select(OutputChunk).order_by(OutputChunk.offset))).scalars().all()
    assert [(c.offset, c.length) for c in chunks] == [(0, 6), (6, 5), (11, 4)]


async def test_binary_output_is_stored_byte_for_byte(api: Api, hub) -> None:
    agent, task = await agent_and_running_task(api)
    raw = b"\xff\xfe ok \xe2\x9c"  # not UTF-8, and a cut character at the end
    assert (await append_output(hub.store, agent["id"], task["id"], raw, offset=0)).status == STORED
    r = await api.client.get(f"/api/admin/tasks/{task['id']}/output", headers=api.headers)
    assert r.content == raw


def test_the_sse_framing_of_events() -> None:
    """``output_sse`` spells the data from the fields (a per-chunk fast path): it must be what
    ``TaskOutputEvent.sse_data()`` says; a ``hub`` event is ``event: <kind>`` with its JSON."""
    import json

    from orchestratia.hub.task_output import hub_event_sse, output_sse, sse
    from orchestratia.protocol.events import InterventionEvent, TaskOutputEvent

    event = TaskOutputEvent.of_bytes("t", 5, "é\x00\n".encode(), "stderr")
    assert output_sse(event) == sse("output", event.sse_data(), 5 + 4)
    assert output_sse(event).startswith(b"id: 9\nevent: output\ndata: ")
    asked = InterventionEvent(id="i", status="pending", task_id="t")
    framed = hub_event_sse(asked).decode()
    assert framed.startswith("event: intervention\ndata: ") and framed.endswith("\n\n")
    assert json.loads(framed.split("data: ", 1)[1]) == {"kind": "intervention", "id": "i", "status": "pending", "task_id": "t"}
