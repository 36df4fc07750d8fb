"""One output writer per hub process: the output of every agent's WebSocket, a batch per
transaction.

Each connection used to store its own output, a transaction per burst. With 500 tasks streaming
4 KiB chunks over 50 agents (``benchmarks/bench_many.py``, 2026-12-06) that was ~250
transactions a second queueing for SQLite's one writer: the lock was busy most of the time and
a line took 0.6 s (p50) to reach its viewers. Here the connections hand their output to one
queue; the writer takes everything that is waiting (up to :data:`BATCH_ITEMS` chunks or
:data:`BATCH_BYTES`) into one transaction, then hands each connection its results
(:meth:`OutputSink.stored`), which must not block: a slow socket never holds up the others.

Nothing is lost at a stop: :meth:`OutputWriter.stop` stores what is queued first, and output
handed over after that is stored at once, in its own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from orchestratia.hub.task_output import AppendResult, OutputItem, append_batch

if TYPE_CHECKING:
    from orchestratia.hub.store.transactions import Store

log = logging.getLogger(__name__)

#: at most this many chunks, or about this many bytes, in one transaction: 1,000 chunks of
#: 4 KiB in one transaction, or 64 frames of 256 KiB from one fast task (the daemon has at most
#: 4 MiB unacknowledged per task, so one task alone never fills it)
BATCH_ITEMS = 1000
BATCH_BYTES = 16 * 1024 * 1024
STOP_TIMEOUT_S = 30.0


class OutputSink(Protocol):
    """Who handed output over (an agent's connection): told what became of it."""

    agent_id: str

    def stored(self, items: list[OutputItem], results: list[AppendResult] | BaseException) -> None:
        """``results`` (one per item, in order), or the store's error: nothing of it was stored."""


@dataclass(frozen=True, slots=True)
class _Pending:
    sink: OutputSink
    item: OutputItem


class OutputWriter:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="orchestratia-output-writer")

    async def put(self, sink: OutputSink, item: OutputItem) -> None:
        """Store ``item`` soon and tell ``sink``; once stopped, store it now."""
        if self._task is None or self._stopped:
            await self._write([_Pending(sink, item)])
            return
        self._queue.put_nowait(_Pending(sink, item))

    async def stop(self) -> None:
        """Store what is queued (for at most ``STOP_TIMEOUT_S``), then end the writer."""
        self._stopped = True
        task, self._task = self._task, None
        if task is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._queue.join(), STOP_TIMEOUT_S)
        if self._queue.qsize():
            log.error("output writer stopped with %d chunks not stored", self._queue.qsize())
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0].item.data)
            while len(batch) < BATCH_ITEMS and size < BATCH_BYTES and not self._queue.empty():
                batch.append(self._queue.get_nowait())
                size += len(batch[-1].item.data)
            try:
                await self._write(batch)
            except Exception:  # never ends the writer: every sink was told already
                log.exception("output writer: a batch of %d chunks failed", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            outcome: list[AppendResult] | BaseException = await append_batch(
                self.store, [(p.sink.agent_id, p.item) for p in batch])
        except Exception as exc:  # the store is failing: each sink says so, its daemon resends
            outcome = exc
        by_sink: dict[int, tuple[OutputSink, list[OutputItem], list[AppendResult]]] = {}
        for i, pending in enumerate(batch):
            entry = by_sink.setdefault(id(pending.sink), (pending.sink, [], []))
            entry[1].append(pending.item)
            if not isinstance(outcome, BaseException):
                entry[2].append(outcome[i])
        for sink, items, results in by_sink.values():
            sink.stored(items, outcome if isinstance(outcome, BaseException) else results)
