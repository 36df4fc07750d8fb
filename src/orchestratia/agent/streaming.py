"""Task output to the hub: each running task's new log bytes, by offset, over the WebSocket.

The log file is the source of truth; :class:`~.log_track.OutputTrack` keeps, per task, what was
sent and what the hub acknowledged. :class:`OutputStream` reads the logs and sends (at most a
window ahead of the hub's acks), and follows what the hub says: ``resume`` after a (re)connect
(send from the hub's offset), ``ack``, ``resend`` after a gap. The watcher
(:mod:`.watcher`) wakes the daemon on each write, so a byte reaches the hub within milliseconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orchestratia.protocol import MAX_OUTPUT_CHUNK_BYTES, WsAck, WsResend, WsResume
from orchestratia.protocol.frames import FRAME_MAX_CHUNK_BYTES

from .tasks import TaskRun
from .ws import HubSocket


def read_range(path: str | Path, offset: int, length: int) -> bytes:
    if length <= 0:
        return b""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(length)
    except FileNotFoundError:
        return b""


def file_size(path: str | Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


class OutputStream:
    """Streams the output of ``runs`` (the daemon's running tasks, by id) over ``ws``; ``poke``
    wakes the supervision loop, which calls :meth:`pump` for each run."""

    def __init__(self, runs: Mapping[str, TaskRun], ws: HubSocket, poke: Callable[[], None]) -> None:
        self.runs = runs
        self.ws = ws
        self.poke = poke

    def acks_expected(self) -> bool:
        """For a task starting now: will the hub acknowledge its output? Yes on a WebSocket that
        speaks acks, and while it is down (the next hub will); no on a v1 one."""
        return self.ws.extended or not self.ws.ready

    def hello_tasks(self) -> list[dict[str, Any]]:
        """The ``hello`` body's task list: each running task with its log's size."""
        return [{"task_id": r.id, "log_size": file_size(r.files.log)} for r in self.runs.values()]

    def on_ready(self, resume: dict[str, int] | None) -> None:
        """The hub answered ``hello`` with ``resume`` (the offsets it holds), or said nothing (None:
        a v1 hub, no acks)."""
        for run in self.runs.values():
            if resume is None:
                run.track.acks = False
            elif run.id in resume:
                run.track.acks = True
                run.track.on_resume(resume[run.id])
            else:  # the hub does not hold it as running: send what is left, do not wait for acks
                run.track.acks = False
        self.poke()

    def on_message(self, msg: WsAck | WsResend | WsResume) -> None:
        if isinstance(msg, WsAck):
            run = self.runs.get(msg.task_id)
            if run:
                run.track.on_ack(msg.next_offset)
                self.poke()
        elif isinstance(msg, WsResend):
            run = self.runs.get(msg.task_id)
            if run:
                run.track.on_resend(msg.from_offset)
                self.poke()
        else:
            for item in msg.tasks:
                if item.task_id in self.runs:
                    self.runs[item.task_id].track.on_resume(item.next_offset)
            self.poke()

    async def pump(self, run: TaskRun, final: bool) -> None:
        """Send new log bytes (by offset) over the WebSocket."""
        run.track.size = file_size(run.files.log)
        if not self.ws.ready:
            return
        while True:
            n = run.track.want()
            if n <= 0:
                return
            data = read_range(run.files.log, run.track.sent, n)
            if not data:
                return
            before = run.track.sent
            run.track.max_chunk = FRAME_MAX_CHUNK_BYTES if self.ws.frames else MAX_OUTPUT_CHUNK_BYTES
            for offset, chunk in run.track.plan(data, final=final):
                if not await self.ws.send_output(run.id, chunk, offset):
                    return
            # a short read, or bytes held back (the log ends inside a UTF-8 character): wait for
            # the next write (the watcher wakes us) or the task's end (final sends them as they are)
            if len(data) < n or run.track.sent - before < len(data):
                return
