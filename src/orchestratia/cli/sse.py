"""A small Server-Sent Events parser (the subset the hub sends: id, event, data, comments)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator


@dataclass
class SseEvent:
    event: str
    data: str
    id: str | None


def iter_sse(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Events from an iterable of lines (without their line endings); a blank line ends an
    event; ``:`` lines are comments (keep-alives)."""
    event, data, last_id = "message", [], None
    have = False
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if have:
                yield SseEvent(event=event, data="\n".join(data), id=last_id)
            event, data, have = "message", [], False
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            event, have = value, True
        elif field == "data":
            data.append(value)
            have = True
        elif field == "id":
            last_id, have = value, True
    if have:
        yield SseEvent(event=event, data="\n".join(data), id=last_id)
