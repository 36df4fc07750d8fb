"""Let long-lived responses (SSE) end when the server is asked to stop.

Uvicorn waits for open HTTP responses before it runs the lifespan shutdown, so an open SSE
stream would hold ``hub serve`` forever after Ctrl+C / SIGTERM. At startup the hub wraps the
SIGINT/SIGTERM handlers that are installed (uvicorn's) so that a signal first sets
``hub.stopping`` — the streams watch it and end — and then does what it did before.

The hub's background loops (scheduler, contact writer) are stopped by cancelling them; they
wait with ``orchestratia.protocol.shared.wait_set``, since ``asyncio.wait_for(event.wait(), t)`` swallows a cancel that
arrives as the event is set before Python 3.12 (the loop goes round again and waits a whole
period more: the scheduler did, at shutdown, right after the last contact flush kicked it, and
the lifespan hung for ``check_interval_s``).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def chain_exit_signals(stopping: asyncio.Event) -> Callable[[], None]:
    """Install the wrappers; returns a function that removes them (if still installed)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    installed: dict[int, Any] = {}
    for sig in SIGNALS:
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(stopping.set)
            previous(signum, frame)

        signal.signal(sig, handler)
        installed[sig] = (handler, previous)

    def undo() -> None:
        for sig, (handler, previous) in installed.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)

    return undo


class Stopping(Exception):
    """The hub is shutting down: end the stream."""


async def next_or_stop(get: Any, stopping: asyncio.Event) -> Any:
    """Await ``get`` (a coroutine) unless ``stopping`` is set first (then raise :class:`Stopping`)."""
    if stopping.is_set():
        get.close()
        raise Stopping
    getter = asyncio.ensure_future(get)
    waiter = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not getter.done():
            getter.cancel()
    if getter.done() and not getter.cancelled():
        return getter.result()
    raise Stopping
