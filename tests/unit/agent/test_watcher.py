"""The log watcher wakes the daemon on a write (inotify), or at its short poll without inotify."""

from __future__ import annotations

import asyncio
import os

from orchestratia.agent.watcher import LogWatcher


async def test_watcher_wakes_on_a_write_not_on_its_timeout(tmp_path) -> None:
    """A write wakes a waiter whose own timeout is an hour away: output is sent when it is
    written, not on a timer. (How fast: benchmarks/, not here.)"""
    w = LogWatcher([tmp_path])
    assert w.uses_inotify
    w.start()
    path = tmp_path / "task-x.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        await w.wait(0.05)  # drain the create event
        waiter = asyncio.create_task(w.wait(3600.0))
        await asyncio.sleep(0)  # the waiter is waiting before the write
        assert not waiter.done()
        os.write(fd, b"hello\n")
        await asyncio.wait_for(waiter, 30)  # liveness deadline only; woken by the write
    finally:
        os.close(fd)
        w.close()


async def test_polling_fallback_wakes_at_its_poll_interval(tmp_path) -> None:
    """Without inotify a waiter with an hour-long timeout still returns at the short poll."""
    w = LogWatcher([tmp_path], poll_s=0.02, use_inotify=False)
    w.start()
    try:
        await asyncio.wait_for(w.wait(3600.0), 30)  # liveness deadline only
    finally:
        w.close()
