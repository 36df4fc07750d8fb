"""Wakes the daemon as soon as a task's log or pid file changes: inotify through ctypes on Linux
(no dependency); otherwise a short stat poll (~20 ms), only while tasks run."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import sys
from pathlib import Path

from orchestratia.protocol.shared import wait_set

log = logging.getLogger(__name__)

IN_MODIFY = 0x002
IN_CLOSE_WRITE = 0x008
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000


class LogWatcher:
    """Wakes waiters when a file in the watched directories changes.

    inotify (via ctypes, no dependency) on Linux: woken within a millisecond of a write.
    Elsewhere, or if inotify fails (e.g. watch limit), :meth:`wait` returns every
    ``poll_s`` (20 ms by default) and the caller stats the logs."""

    def __init__(self, dirs: list[str | Path], poll_s: float = 0.02, use_inotify: bool = True) -> None:
        self.dirs = [str(d) for d in dirs]
        self.poll_s = poll_s
        self._fd: int | None = None
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        if use_inotify and sys.platform.startswith("linux"):
            self._fd = self._inotify()

    @property
    def uses_inotify(self) -> bool:
        return self._fd is not None

    def _inotify(self) -> int | None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
            if fd < 0:
                raise OSError(ctypes.get_errno(), "inotify_init1")
            for d in self.dirs:
                mask = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
                if libc.inotify_add_watch(fd, os.fsencode(d), mask) < 0:
                    err = ctypes.get_errno()
                    os.close(fd)
                    raise OSError(err, f"inotify_add_watch {d}")
            return fd
        except (OSError, AttributeError) as err:
            log.warning("inotify unavailable (%s); watching task logs by polling every %d ms", err,
                        int(self.poll_s * 1000))
            return None

    def start(self) -> None:
        if self._fd is not None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        try:
            while os.read(self._fd, 65536):  # type: ignore[arg-type]
                pass
        except BlockingIOError:
            pass
        except OSError:
            return
        self._event.set()

    def poke(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> None:
        """Return on a change (inotify), on :meth:`poke`, or after ``timeout`` (inotify) /
        ``min(timeout, poll_s)`` (polling)."""
        if self._fd is None:
            timeout = min(timeout, self.poll_s)
        await wait_set(self._event, timeout)
        self._event.clear()

    def close(self) -> None:
        if self._fd is not None:
            if self._loop is not None:
                try:
                    self._loop.remove_reader(self._fd)
                except (ValueError, RuntimeError):
                    pass
            os.close(self._fd)
            self._fd = None
