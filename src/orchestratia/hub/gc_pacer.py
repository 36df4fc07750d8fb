"""Garbage collection on a clock, so its pauses stay short however many agents are connected.

Every collection stops the event loop. A hub holds ~240 long-lived objects per connected agent
(1.2 M at 5,000 agents: the ASGI stack's coroutines, the WebSocket's parser and timers, the
connection's tasks and queues). CPython starts collections from allocation counts, which go
wrong for a server like this one:

* the youngest generation is collected when allocations minus deallocations pass a threshold;
  when old objects die while new ones live (a heartbeat replaces what the last one left), the
  count stays low while the generation grows: 209,000 young objects, one 143 ms pause
  (``benchmarks/gcprobe``, 5,000 agents);
* a full collection walks every object: 0.5–1.7 s at 1,500–5,000 agents.

So the hub collects by time instead (:class:`GcPacer`): the young generation every
``young_s``, the middle one every ``middle_s``; every ``old_s`` what survived both is frozen
(``gc.freeze``, no walk): later collections skip it. Each pause walks only what a couple of
seconds of traffic left alive: milliseconds in steady state, ~0.1 s while thousands of agents
connect at once. Long-lived objects that later become garbage in a reference cycle (a closed
connection's tasks) wait for the full collection every ``full_s``: one pause of about 0.2 ms
per connected agent (1 s at 5,000 agents), or never if ``full_s`` is 0. Objects freed by
reference counting (nearly all) go at once, as always.

With ``gc_pacing`` off, :func:`tune_gc` sets CPython's own thresholds instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class GcPacer:
    def __init__(self, young_s: float = 0.2, middle_s: float = 2.0, old_s: float = 60.0, full_s: float = 3600.0):
        self.young_s, self.middle_s, self.old_s, self.full_s = young_s, middle_s, old_s, full_s
        self._task: asyncio.Task[None] | None = None
        self._was_enabled = True
        #: the longest pause so far per kind (seconds), for the curious (and the tests)
        self.longest: dict[str, float] = {"young": 0.0, "middle": 0.0, "old": 0.0, "full": 0.0}
        self.passes: dict[str, int] = {"young": 0, "middle": 0, "old": 0, "full": 0}

    def start(self) -> None:
        """Take over from CPython's automatic collection (what start-up made is frozen)."""
        self._was_enabled = gc.isenabled()
        gc.freeze()
        gc.disable()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="orchestratia-gc")

    async def stop(self) -> None:
        """Give collection back to CPython, as it was before :meth:`start`."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = {"middle": now + self.middle_s, "old": now + self.old_s,
               "full": now + self.full_s if self.full_s > 0 else float("inf")}
        while True:
            await asyncio.sleep(self.young_s)
            now = loop.time()
            if now >= due["full"]:
                self._timed("full", self._full)
                due = {"middle": now + self.middle_s, "old": now + self.old_s, "full": now + self.full_s}
            elif now >= due["old"]:
                self._timed("old", gc.freeze)  # survivors of the middle generation: no walk
                due["old"] = now + self.old_s
            elif now >= due["middle"]:
                self._timed("middle", lambda: gc.collect(1))
                due["middle"] = now + self.middle_s
            else:
                self._timed("young", lambda: gc.collect(0))

    @staticmethod
    def _full() -> None:
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def _timed(self, kind: str, collect: Callable[[], object]) -> None:
        t0 = time.perf_counter()
        collect()
        took = time.perf_counter() - t0
        self.longest[kind] = max(self.longest[kind], took)
        self.passes[kind] += 1
        if took > 0.5:
            log.info("garbage collection (%s) took %.0f ms", kind, took * 1000)


def tune_gc() -> None:
    """Keep garbage-collection pauses short. Every collection stops the event loop, and a hub
    holds a few hundred long-lived objects per connected agent (about 1.5 M at 5,000 agents).
    Freeze what start-up made; collect the young generation every 10,000 net allocations and
    the middle one every 10 of those, so neither ever walks more than ~100,000 objects (the
    middle generation at 20 × 50,000 took 0.5–0.75 s after 5,000 agents connected); full
    collections stay rare (CPython also waits until the long-lived objects grew by 25 %)."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 50)
