"""Admin API: Server-Sent Events — a task's output (replay, then live tail) and hub events.

Task stream: subscribe to ``task:{id}`` first, then replay the store from the requested offset,
then tail live chunks, dropping what was already sent (offset < sent) and re-reading the store
on any gap, so the client sees every byte exactly once. ``id:`` is the next offset.

The bus hands over typed events (``protocol.events``; a replica's arrive parsed by the Redis
bus), framed by ``task_output``'s SSE functions. Both streams end when the admin session that opened them ends (checked every keep-alive period).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request

from orchestratia.protocol import FINAL_STATUSES, TaskStatus
from orchestratia.protocol.events import HUB_CHANNEL, TaskOutputEvent, TaskStatusEvent, task_channel
from orchestratia.hub.api.admin.tasks import load_task, show
from orchestratia.hub.api.deps import get_hub
from orchestratia.hub.api.responses import EventStreamResponse
from orchestratia.hub.auth import SessionWatch
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.shutdown import Stopping, next_or_stop
from orchestratia.hub.store.queries import read_output, slice_from
from orchestratia.hub.task_output import hub_event_sse, output_sse, sse, sse_comment

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
REPLAY_BATCH = 1024 * 1024
#: the last thing a stream sends when the admin session that opened it ended (logout, expiry);
#: the session is checked again every ``sse_keepalive_s`` (reconnecting then gets 401)
SESSION_ENDED = sse_comment("session ended")
KEEP_ALIVE = sse_comment("keep-alive")
#: while a task waits, its ``queue_reason`` is read again this often (an agent going offline or
#: freeing a slot publishes nothing on the task's channel); two small reads per watcher
REASON_RECHECK_S = 5.0


def add_routes(api: APIRouter) -> None:
    api.add_api_route("/tasks/{task_id}/stream", stream_task, methods=["GET"], response_class=EventStreamResponse)
    api.add_api_route("/events", stream_events, methods=["GET"], response_class=EventStreamResponse)


async def stream_task(
    task_id: str,
    request: Request,
    hub: Runtime = Depends(get_hub),
    offset: int = Query(default=0, ge=0),
    last_event_id: str | None = Header(default=None),
) -> EventStreamResponse:
    if last_event_id and last_event_id.strip().isdigit():
        offset = int(last_event_id.strip())
    async with hub.store.read() as session:
        task = await load_task(session, task_id)
    watch = SessionWatch.of(request, hub.settings.sse_keepalive_s)
    return EventStreamResponse(TaskStream(hub, task.id, offset, watch).events(), headers=SSE_HEADERS)


class TaskStream:
    def __init__(self, hub: Runtime, task_id: str, offset: int, watch: SessionWatch | None = None) -> None:
        self.hub = hub
        self.task_id = task_id
        self.sent = offset
        self.task: dict[str, Any] = {}
        self.watch = watch

    async def _refresh(self) -> dict[str, Any]:
        async with self.hub.store.read() as session:
            self.task = await show(session, await load_task(session, self.task_id), self.hub)
        return self.task

    async def _catch_up(self) -> AsyncIterator[bytes]:
        """Everything the store holds from ``sent`` on."""
        while True:
            async with self.hub.store.read() as session:
                chunks = await read_output(session, self.task_id, self.sent, REPLAY_BATCH)
            if not chunks:
                return
            for chunk in chunks:
                data = slice_from(chunk, self.sent)
                if data:
                    yield output_sse(TaskOutputEvent.of_bytes(self.task_id, self.sent, data, chunk.stream))
                    self.sent += len(data)

    def _final(self) -> bool:
        return TaskStatus(self.task["status"]) in FINAL_STATUSES and self.sent >= self.task["output_size"]

    async def events(self) -> AsyncIterator[bytes]:
        with contextlib.suppress(Stopping):
            async for event in self._events():
                yield event

    async def _events(self) -> AsyncIterator[bytes]:
        keepalive = self.hub.settings.sse_keepalive_s
        async with self.hub.bus.subscribe(task_channel(self.task_id)) as sub:
            yield sse("status", await self._refresh(), self.sent)
            async for event in self._catch_up():
                yield event
            while True:
                if self._final():
                    yield sse("end", self.task, self.sent)
                    return
                if self.watch is not None and await self.watch.ended():
                    yield SESSION_ENDED
                    return
                waiting = self.task.get("queue_reason") is not None
                wait_s = min(keepalive, REASON_RECHECK_S) if waiting else keepalive
                message = await next_or_stop(sub.get(timeout=wait_s), self.hub.stopping)
                if message is None:
                    yield KEEP_ALIVE
                    reason = self.task.get("queue_reason")
                    if (await self._refresh()).get("queue_reason") != reason:  # no status event says so
                        yield sse("status", self.task, self.sent)
                    async for event in self._catch_up():
                        yield event
                    continue
                async for event in self._on_message(message):
                    yield event

    async def _on_message(self, message: object) -> AsyncIterator[bytes]:
        if isinstance(message, TaskOutputEvent):
            start, length = message.offset, message.length
            if start + length <= self.sent:
                return  # already sent (replayed from the store)
            if start == self.sent:
                self.sent = start + length
                yield output_sse(message)
                return
            async for event in self._catch_up():  # a gap or an overlap: the store decides
                yield event
            return
        if isinstance(message, TaskStatusEvent):
            async for event in self._catch_up():
                yield event
            yield sse("status", await self._refresh(), self.sent)
            async for event in self._catch_up():
                yield event
            return


async def stream_events(request: Request, hub: Runtime = Depends(get_hub)) -> EventStreamResponse:
    watch = SessionWatch.of(request, hub.settings.sse_keepalive_s)
    return EventStreamResponse(_hub_events(hub, watch), headers=SSE_HEADERS)


async def _hub_events(hub: Runtime, watch: SessionWatch) -> AsyncIterator[bytes]:
    keepalive = hub.settings.sse_keepalive_s
    async with hub.bus.subscribe(HUB_CHANNEL) as sub:
        yield sse_comment("connected")
        while True:
            if await watch.ended():
                yield SESSION_ENDED
                return
            try:
                message = await next_or_stop(sub.get(timeout=keepalive), hub.stopping)
            except Stopping:
                return
            if message is None:
                yield KEEP_ALIVE
                continue
            yield hub_event_sse(message)
