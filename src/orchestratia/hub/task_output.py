"""Task output: one append-only byte stream per task, stored in chunks.

Both v1 ``output`` (no offset: appended at the end) and offset messages go through
:func:`append_batch` (or :func:`append_output` for one), which applies PROTOCOL.md's offset
rules against ``tasks.output_size`` (the task's ``next_offset``):

* ``offset == next_offset`` → stored, ``next_offset += length``;
* ``offset + length <= next_offset`` → duplicate, dropped;
* ``offset > next_offset`` → gap, not stored (the caller asks for a resend);
* an overlap (``offset < next_offset < offset + length``) stores only the new tail.

A batch of messages (of all agents, ``output_writer.py``) is applied in one transaction.

Every stored chunk is announced on ``task:{id}`` as a ``protocol.events.TaskOutputEvent``.
The Server-Sent Events framing of every stream the hub serves (``api/admin/stream.py``) is
here: :func:`sse` for any event, :func:`output_sse` for output, :func:`hub_event_sse` for the
``hub`` channel's events.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol.events import AnyEvent, TaskOutputEvent
from orchestratia.hub.json_safety import dumps
from orchestratia.hub.metrics import note_output
from orchestratia.hub.states import emit
from orchestratia.hub.store.models import OutputChunk, Task, utcnow
from orchestratia.hub.store.queries import output_positions

if TYPE_CHECKING:
    from orchestratia.hub.store.transactions import Store

log = logging.getLogger(__name__)

STORED, DUPLICATE, GAP, NOT_FOUND = "stored", "duplicate", "gap", "not_found"


@dataclass(frozen=True)
class OutputItem:
    task_id: str
    data: bytes
    stream: str = "stdout"
    offset: int | None = None


@dataclass(frozen=True)
class AppendResult:
    status: str
    next_offset: int = 0


async def append_output(
    store: Store, agent_id: str, task_id: str, data: bytes, stream: str = "stdout", offset: int | None = None
) -> AppendResult:
    """Store ``data`` (logged at ``offset``, or at the end when None) for the agent's task."""
    return (await append_batch(store, [(agent_id, OutputItem(task_id, data, stream, offset))]))[0]


async def append_batch(store: Store, batch: list[tuple[str, OutputItem]]) -> list[AppendResult]:
    """Apply each ``(agent_id, item)`` in order, in one transaction; one result per item. An
    item for a task that is not its agent's is dropped (``NOT_FOUND``).

    One read of the batch's tasks' two output columns, one multi-row insert of its chunks, one
    executemany update of the sizes, no ORM objects: with 500 tasks streaming 4 KiB chunks over
    50 agents (``benchmarks/bench_many.py``) the ORM's unit of work for each chunk object was
    20 % of the hub's samples, a ``SELECT`` per task ~5 %, then loading and flushing whole task
    rows ~20 %."""
    async with store.write() as session:
        found = await output_positions(session, {(item.task_id, agent_id) for agent_id, item in batch})
        held = {key: _Held(key[0], size, base) for key, (size, base) in found.items()}
        rows: list[dict[str, Any]] = []
        results = [_apply(session, held.get((item.task_id, agent_id)), item, agent_id, rows)
                   for agent_id, item in batch]
        if rows:
            await session.execute(insert(OutputChunk), rows)
            sizes = [{"tid": h.task_id, "size": h.size} for h in held.values() if h.changed]
            await session.execute(_SET_SIZE, sizes)
    return results


@dataclass
class _Held:
    """A task's stored output as the batch goes: ``size`` is its ``next_offset`` in the store."""

    task_id: str
    size: int
    base: int
    changed: bool = False


_TASKS = Task.__table__
_SET_SIZE = update(_TASKS).where(_TASKS.c.id == bindparam("tid")).values(output_size=bindparam("size"))


def _apply(session: AsyncSession, task: _Held | None, item: OutputItem, agent_id: str,
           rows: list[dict[str, Any]]) -> AppendResult:
    if task is None:
        log.warning("dropping output of agent %s for task %s: not its task", agent_id, item.task_id)
        return AppendResult(NOT_FOUND)
    held = task.size
    # a rerun's daemon counts its offsets from 0 again: its bytes go after the earlier attempts'
    # (``output_base``, attempts.py); acks and gaps are told in the daemon's own count
    base = task.base
    offset = held if item.offset is None else item.offset + base
    if offset > held:
        return AppendResult(GAP, held - base)
    if offset + len(item.data) <= held:
        return AppendResult(DUPLICATE, held - base)
    data = item.data[held - offset :]
    rows.append({"task_id": task.task_id, "offset": held, "length": len(data), "data": data, "stream": item.stream,
                 "created_at": utcnow()})
    task.size, task.changed = held + len(data), True
    note_output(session, len(data))
    emit(session, TaskOutputEvent.of_bytes(task.task_id, held, data, item.stream))
    return AppendResult(STORED, task.size - base)


# ---------------------------------------------------------------------------- Server-Sent Events


def output_sse(event: TaskOutputEvent) -> bytes:
    """The SSE ``output`` event (``data``: ``event.sse_data()``); its ``id`` is the next offset.

    The data is spelled from the fields rather than by ``sse_data()`` (a ``model_dump``): this
    runs for every chunk a viewer gets, and it saves about 1-2 us a chunk (a test checks that
    both give the same JSON)."""
    data = {"offset": event.offset, "length": event.length, "stream": event.stream, "text": event.text}
    return sse("output", data, event.offset + event.length)


def hub_event_sse(event: AnyEvent) -> bytes:
    """A ``hub`` channel event as ``event: <kind>`` with the event's JSON as ``data``."""
    return sse(event.kind, event.to_dict())


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> bytes:
    """One Server-Sent Event: ``id:`` (when given), ``event:``, and ``data`` as one line of JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\n".encode() + b"data: " + dumps(data) + b"\n\n"


def sse_comment(text: str) -> bytes:
    """An SSE comment line (clients ignore it): keep-alives and notes such as the session end."""
    return f": {text}\n\n".encode()
