"""Waiting on an event with a deadline, in loops that are stopped by cancelling them.

``asyncio.wait_for(event.wait(), timeout)`` is the obvious way, but before Python 3.12 it
swallows a cancel that arrives while the event is being set (it sees the inner wait done and
returns its result instead of raising). A loop stopped by ``task.cancel()`` right after a
``set()`` then goes round again and waits a whole period more: the scheduler's loop did that
at shutdown (the last contact flush kicks it, then it is cancelled), and the hub hung in its
lifespan for ``check_interval_s``. :func:`wait_set` never loses a cancel.
"""

from __future__ import annotations

import asyncio


async def wait_set(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set (True) or ``timeout`` seconds pass (False).

    A cancel always propagates, also one that arrives as the event is set."""
    if event.is_set():
        return True
    waiter = asyncio.get_running_loop().create_task(event.wait())
    try:
        done, _ = await asyncio.wait((waiter,), timeout=max(0.0, timeout))
    finally:
        waiter.cancel()
    return bool(done)
