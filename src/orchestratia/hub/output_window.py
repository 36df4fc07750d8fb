"""Windows on a task's stored output: its tail cut at a line start, or an exact byte range.

The task page shows the tail of a big log first (``GET /api/admin/tasks/{id}/output?tail_bytes=N``)
and earlier output on demand (``…&before=B``): a 24 MB log then costs the page a few hundred
KB instead of the whole log (29 s to show its last line in Chromium when it read it all).
Reads seek to the chunk holding the window's start through the ``(task_id, offset)`` index
instead of filtering every chunk of the task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import HTTPException
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.hub.store.models import OutputChunk

if TYPE_CHECKING:
    from orchestratia.hub.runtime import Runtime

#: a UTF-8 continuation byte (10xxxxxx): never the first byte of a character
_CONTINUATION = range(0x80, 0xC0)


async def read_range(session: AsyncSession, task_id: str, start: int, stop: int) -> bytes:
    """The stored bytes ``[start, stop)`` (shorter if the store holds less)."""
    if stop <= start:
        return b""
    first = (
        await session.execute(
            select(func.max(OutputChunk.offset)).where(OutputChunk.task_id == task_id, OutputChunk.offset <= start)
        )
    ).scalar_one_or_none()
    rows = (
        await session.execute(
            select(OutputChunk.offset, OutputChunk.data)
            .where(OutputChunk.task_id == task_id, OutputChunk.offset >= (first or 0), OutputChunk.offset < stop)
            .order_by(OutputChunk.offset)
        )
    ).all()
    parts: list[bytes] = []
    pos = start
    for offset, data in rows:
        if offset > pos:
            break  # a hole cannot happen (output is contiguous); stop rather than join across it
        piece = bytes(data)[pos - offset : stop - offset]
        parts.append(piece)
        pos += len(piece)
    return b"".join(parts)


def line_start(window: bytes, window_start: int) -> int:
    """The first line start inside ``window`` (which begins one byte before the cut, so a cut
    right after a newline stays where it is). Without a newline in the window (one huge
    line), the cut moves only to the next UTF-8 character boundary."""
    newline = window.find(b"\n")
    if newline >= 0:
        return window_start + newline + 1
    skip = 1
    while skip < len(window) and window[skip] in _CONTINUATION:
        skip += 1
    return window_start + skip


async def tail_start(hub: Runtime, task_id: str, before: int, tail_bytes: int) -> int:
    """Where the last ``tail_bytes`` before offset ``before`` begin, moved on to a line start."""
    cut = before - tail_bytes
    if cut <= 0:
        return 0
    async with hub.store.read() as session:
        window = await read_range(session, task_id, cut - 1, before)
    return min(before, line_start(window, cut - 1))


async def resolve(
    hub: Runtime, task_id: str, size: int, offset: int, limit: int | None, tail_bytes: int | None, before: int | None
) -> tuple[int, int]:
    """The byte range ``[start, end)`` an output request asks for, given the task's output size.

    * ``offset`` (+ ``limit``): from ``offset``, at most ``limit`` bytes;
    * ``tail_bytes`` (+ ``before``): the last ``tail_bytes`` before ``before`` (default: the
      end), starting at a line start."""
    if tail_bytes is None:
        if before is not None:
            raise HTTPException(422, detail="before only goes with tail_bytes: ask ?tail_bytes=N&before=OFFSET")
        end = max(offset, size)
        return offset, end if limit is None else min(end, offset + limit)
    if offset or limit is not None:
        raise HTTPException(422, detail="use either tail_bytes (and before) or offset (and limit), not both")
    end = size if before is None else min(before, size)
    return await tail_start(hub, task_id, end, tail_bytes), end
