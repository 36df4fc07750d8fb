"""``tasks watch``: follow ``/tasks/{id}/stream`` (SSE, parsed by :mod:`.sse`) until the
``end`` event; how the output looks is a renderer's job (:mod:`.render.stream`).

The stream replays stored output from an offset, then tails live output. If the
connection drops before ``end``, we reconnect from the last event id (the next offset),
so nothing is printed twice or skipped.

An ``output`` event is parsed as what the hub framed, ``protocol.events.TaskOutputEvent``;
``status`` and ``end`` carry the task object, read leniently (any field may be missing)."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

from .client import HubClient
from .errors import CliError
from .render.safe import visible
from .render.stream import OutputRenderer, PlainOutput

if TYPE_CHECKING:
    from orchestratia.protocol.events import TaskOutputEvent

#: ``tasks watch`` exit status per final task status.
WATCH_EXIT_CODES = {"completed": 0, "failed": 1, "cancelled": 2, "timed_out": 3, "lost": 4}
#: ``tasks watch`` exit status when the stream could not be followed to the end.
WATCH_EXIT_ERROR = 5
RECONNECT_DEADLINE_S = 60.0


def _status_line(task: dict[str, Any], quiet: bool) -> None:
    if quiet:
        return
    status = task.get("status")
    extra = f": {task['error']}" if task.get("error") else ""
    sys.stderr.write(visible(f"\n[task {task.get('id')} {status}{extra}]\n", multiline=True))
    sys.stderr.flush()


def _progress(task: dict[str, Any], seen: dict[str, Any], quiet: bool) -> None:
    """A status change before the end (queued → assigned → running), or a new reason why the
    task still waits (``queue_reason``), on stderr."""
    status, reason = task.get("status"), task.get("queue_reason")
    if quiet or not status or status in WATCH_EXIT_CODES:
        return
    if status == seen.get("status") and reason == seen.get("reason"):
        return
    seen["status"], seen["reason"] = status, reason
    where = f" on {task['agent']}" if task.get("agent") else ""
    waiting = " (waiting for a human)" if task.get("waiting_for_human") else ""
    why = f": {reason}" if reason else ""
    sys.stderr.write(visible(f"[task {status}{where}{waiting}{why}]") + "\n")
    sys.stderr.flush()


def _output_event(data: str) -> TaskOutputEvent:
    """The ``output`` event's data as the hub framed it (``TaskOutputEvent.sse_data()``)."""
    # imported here: pydantic costs 0.5 s of the CLI's start (see common.is_uuid), and only
    # `tasks watch` needs it
    from pydantic import ValidationError

    from orchestratia.protocol.events import TaskOutputEvent

    try:
        return TaskOutputEvent.model_validate_json(data or "{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "data"
        raise ValueError(f"output event, {where}: {first.get('msg')}") from exc


def watch_task(
    hub: HubClient, task_id: str, offset: int = 0, quiet: bool = False, renderer: OutputRenderer | None = None
) -> int:
    """Render the task's output as it arrives (plain safe text by default); the exit status for
    its final status."""
    out = renderer or PlainOutput()
    try:
        return _follow(hub, task_id, offset, quiet, out)
    finally:
        out.close()  # what the renderer still holds (a line without its newline) is shown


def _follow(hub: HubClient, task_id: str, offset: int, quiet: bool, out: OutputRenderer) -> int:
    position = offset
    deadline: float | None = None
    seen: dict[str, Any] = {}
    while True:
        try:
            for event in hub.stream_task(task_id, offset=position):
                deadline = None
                if event.id and event.id.isdigit():
                    position = int(event.id)
                if event.event == "output":
                    chunk = _output_event(event.data)
                    out.feed(chunk.text)
                    position = max(position, chunk.offset + chunk.length)
                elif event.event == "status":
                    _progress(json.loads(event.data or "{}"), seen, quiet)
                elif event.event == "end":
                    task = json.loads(event.data or "{}")
                    out.close()
                    _status_line(task, quiet)
                    return WATCH_EXIT_CODES.get(str(task.get("status")), WATCH_EXIT_ERROR)
            reason = "the hub closed the stream before the task ended"
        except CliError as exc:
            if exc.status in (401, 403, 404):
                raise CliError(exc.message, WATCH_EXIT_ERROR) from exc
            reason = exc.message
        except ValueError as exc:  # not JSON, or not the event it should be
            raise CliError(f"the hub sent an event this CLI cannot read: {exc}", WATCH_EXIT_ERROR) from exc
        now = time.monotonic()
        if deadline is None:
            deadline = now + RECONNECT_DEADLINE_S
        if now >= deadline:
            raise CliError(f"lost the stream of task {task_id}: {reason}", WATCH_EXIT_ERROR)
        time.sleep(1.0)
