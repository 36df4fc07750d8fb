"""Task output: one append-only byte stream per task, stored in chunks.

Both v1 ``output`` (no offset: appended at the end) and offset messages go through
:func:`append_output`, which applies PROTOCOL.md's offset rules against ``tasks.output_size``
(the task's ``next_offset``):

* ``offset == next_offset`` → stored, ``next_offset += length``;
* ``offset + length <= next_offset`` → duplicate, dropped;
* ``offset > next_offset`` → gap, not stored (the caller asks for a resend);
* an overlap (``offset < next_offset < offset + length``) stores only the new tail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestratia.hub.states import emit
from orchestratia.hub.store.models import OutputChunk
from orchestratia.hub.store.queries import agent_task

if TYPE_CHECKING:
    from orchestratia.hub.core import Hub

log = logging.getLogger(__name__)

STORED, DUPLICATE, GAP, NOT_FOUND = "stored", "duplicate", "gap", "not_found"


@dataclass(frozen=True)
class AppendResult:
    status: str
    next_offset: int = 0


async def append_output(
    hub: Hub, agent_id: str, task_id: str, data: bytes, stream: str = "stdout", offset: int | None = None
) -> AppendResult:
    """Store ``data`` (logged at ``offset``, or at the end when None) for the agent's task."""
    async with hub.write() as session:
        task = await agent_task(session, agent_id, task_id, lock=True)
        if task is None:
            log.warning("dropping output of agent %s for task %s: not its task", agent_id, task_id)
            return AppendResult(NOT_FOUND)
        held = task.output_size or 0
        if offset is None:
            offset = held
        if offset > held:
            return AppendResult(GAP, held)
        if offset + len(data) <= held:
            return AppendResult(DUPLICATE, held)
        data = data[held - offset :]
        session.add(OutputChunk(task_id=task.id, offset=held, length=len(data), data=data, stream=stream))
        task.output_size = held + len(data)
        await session.flush()
        emit(
            session,
            f"task:{task.id}",
            {
                "kind": "output",
                "offset": held,
                "length": len(data),
                "stream": stream,
                "text": data.decode("utf-8", errors="replace"),
            },
        )
        return AppendResult(STORED, task.output_size)
