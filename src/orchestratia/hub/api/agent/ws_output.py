"""One agent connection's output: handed to the hub's output writer (``hub/output_writer.py``),
at most :data:`OUTPUT_QUEUE` chunks at a time, and what became of it told to the daemon:
``ack`` (stored up to an offset) or ``resend`` (a gap: send again from an offset).

The writer's results arrive on a queue of this connection's own and are answered by this
connection's task, so a daemon that does not read its socket holds up only itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel

from orchestratia.protocol import WsAck, WsHello, WsResend
from orchestratia.hub.store.writable import store_failure
from orchestratia.hub.task_output import DUPLICATE, GAP, STORED, AppendResult, OutputItem

if TYPE_CHECKING:
    from orchestratia.hub.output_writer import OutputWriter

log = logging.getLogger(__name__)
#: chunks handed over and not yet answered, per connection: past this, the connection stops
#: reading its socket (TCP holds the daemon back) until the writer catches up
OUTPUT_QUEUE = 1000
RESEND_REPEAT_S = 2.0
STORE_WARN_EVERY_S = 5.0
FINISH_TIMEOUT_S = 30.0

Outcome = tuple[list[OutputItem], "list[AppendResult] | BaseException"]


class Link(Protocol):
    """What of the connection this needs (``ws.AgentConnection``)."""

    hello: WsHello | None

    async def send(self, message: BaseModel) -> None: ...


class ConnectionOutput:
    def __init__(self, writer: OutputWriter, agent_id: str, agent_name: str, link: Link) -> None:
        self.writer = writer
        self.agent_id = agent_id
        self.agent_name = agent_name
        self.link = link
        self._slots = asyncio.Semaphore(OUTPUT_QUEUE)
        self._outcomes: asyncio.Queue[Outcome | None] = asyncio.Queue()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_resend: dict[str, tuple[int, float]] = {}
        self._store_warned_at = -STORE_WARN_EVERY_S

    async def put(self, item: OutputItem) -> None:
        """Hand ``item`` to the writer (waits while ``OUTPUT_QUEUE`` chunks are unanswered)."""
        await self._slots.acquire()
        self._in_flight += 1
        self._idle.clear()
        await self.writer.put(self, item)

    def stored(self, items: list[OutputItem], results: list[AppendResult] | BaseException) -> None:
        """The writer's report (``output_writer.OutputSink``): queued, answered by :meth:`answer_loop`."""
        self._outcomes.put_nowait((items, results))

    async def answer_loop(self) -> None:
        """Acks and resends for each outcome, until :meth:`finish`."""
        while (outcome := await self._outcomes.get()) is not None:
            items, results = outcome
            try:
                await self._answer(items, results)
            except Exception:  # an answer that fails must not stop the others
                log.exception("agent %s: answering stored output failed", self.agent_name)
            finally:
                for _ in items:
                    self._slots.release()
                self._in_flight -= len(items)
                if self._in_flight == 0:
                    self._idle.set()

    async def finish(self, answering: asyncio.Task[None]) -> None:
        """The socket ended: wait until what was received is stored (v1 daemons never resend),
        then end :meth:`answer_loop`."""
        try:
            await asyncio.wait_for(self._idle.wait(), FINISH_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.error("agent %s: %d output messages not stored within %g s of the socket's end",
                      self.agent_name, self._in_flight, FINISH_TIMEOUT_S)
        self._outcomes.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(answering, 5)

    async def _answer(self, items: list[OutputItem], results: list[AppendResult] | BaseException) -> None:
        if isinstance(results, BaseException):
            self._store_failed(results, len(items))
            return  # nothing acked: our daemon resends from its last ack
        if self.link.hello is None:
            return  # a v1 connection gets none of the extensions
        acks: dict[str, int] = {}
        gaps: dict[str, int] = {}
        for item, result in zip(items, results):
            if result.status in (STORED, DUPLICATE):
                acks[item.task_id] = result.next_offset
            elif result.status == GAP:
                gaps.setdefault(item.task_id, result.next_offset)
        for task_id, next_offset in acks.items():
            await self.link.send(WsAck(task_id=task_id, next_offset=next_offset))
        for task_id, from_offset in gaps.items():
            if self._should_resend(task_id, from_offset):
                await self.link.send(WsResend(task_id=task_id, from_offset=from_offset))

    def _store_failed(self, exc: BaseException, count: int) -> None:
        if store_failure(exc) is None:
            log.error("agent %s: storing %d output messages failed", self.agent_name, count, exc_info=exc)
        elif time.monotonic() - self._store_warned_at >= STORE_WARN_EVERY_S:
            # the store is down (PostgreSQL restarting): a traceback per batch was ~130 log
            # records a second per streaming task; one line every few seconds says the same
            self._store_warned_at = time.monotonic()
            log.warning("agent %s: output not stored, the store is failing (%s); the daemon sends it again",
                        self.agent_name, store_failure(exc))

    def _should_resend(self, task_id: str, from_offset: int) -> bool:
        """One ``resend`` per gap position, repeated only if the gap persists for a while."""
        now = time.monotonic()
        last = self._last_resend.get(task_id)
        if last is not None and last[0] == from_offset and now - last[1] < RESEND_REPEAT_S:
            return False
        self._last_resend[task_id] = (from_offset, now)
        return True
