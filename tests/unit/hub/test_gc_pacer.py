"""Garbage collection on a clock (hub/gc_pacer.py): while the hub runs, CPython's automatic
collection is off, yet reference cycles are still reclaimed, young ones at once and long-lived
ones by the periodic full collection; stopping gives collection back as it was."""

from __future__ import annotations

import gc
import weakref

from orchestratia.hub.gc_pacer import GcPacer

from .helpers import wait_for


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector can free it


async def test_a_running_hub_collects_cycles_and_gives_collection_back(app) -> None:
    assert not gc.isenabled()  # the app fixture's hub is running with its pacer
    ref = weakref.ref(Node())

    async def freed() -> bool:
        return ref() is None

    await wait_for(freed, timeout=10, what="a young reference cycle collected")


async def test_long_lived_cycles_are_reclaimed_by_the_full_collection() -> None:
    was = gc.isenabled()
    pacer = GcPacer(young_s=0.01, middle_s=0.03, old_s=0.1, full_s=0.6)
    pacer.start()
    try:
        node = Node()
        ref = weakref.ref(node)
        old_passes = pacer.passes["old"]

        async def frozen() -> bool:  # it lived through young, middle and old passes
            return pacer.passes["old"] > old_passes

        await wait_for(frozen, timeout=10, what="an old pass (it froze the node)")
        del node

        async def freed() -> bool:
            return ref() is None

        await wait_for(freed, timeout=10, what="a frozen cycle reclaimed by the full collection")
        assert pacer.longest["full"] > 0
    finally:
        await pacer.stop()
    assert gc.isenabled() == was and gc.get_freeze_count() == 0
