"""Watching the running tasks: each one's end (the launcher's exit file, or its session gone
without one), its timeout, a stop (SIGINT, then SIGTERM, then SIGKILL to the runner's process
group), and the final report once the hub holds its output. Also adoption at start-up: the
tasks a previous daemon left running (``task-<id>.json``)."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any

from . import tasks as T
from . import workdir
from .admission import Admission
from .client import AuthError, ConflictError, HubClient, NotFoundError
from .human_link import HumanLink
from .report import send_report
from .sessions import SessionBackend
from .streaming import OutputStream, file_size
from .task_workspace import finish_and_send
from .tasks import TaskRun
from .watcher import LogWatcher

log = logging.getLogger("orchestratia.agent")
GONE_GRACE_S = 10.0  # a session that vanished without an exit file is declared dead after this
ALIVE_CHECK_S = 2.0
WS_DOWN_REPORT_S = 120.0  # with no WebSocket, a finished task is reported after this anyway

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


class Supervisor:
    def __init__(self, cfg: Any, client: HubClient, backend: SessionBackend, runners: dict[str, Any],
                 admission: Admission, stream: OutputStream, human: HumanLink, spawn: Spawn,
                 on_finished: Callable[[], None]) -> None:
        self.cfg = cfg
        self.client = client
        self.backend = backend
        self.runners = runners
        self.admission = admission
        self.stream = stream
        self.human = human
        self.spawn = spawn
        self.on_finished = on_finished  # a slot is free: the daemon starts what waits, polls

    async def run(self, watcher: LogWatcher, stop: asyncio.Event) -> None:
        """The supervision loop: every run on each change of a log or pid file (or 0.5 s)."""
        while not stop.is_set():
            runs = list(self.admission.running.values())
            if not runs:
                await watcher.wait(1.0)
                continue
            for run in runs:
                try:
                    await self.supervise(run)
                except Exception:  # noqa: BLE001 - one task's trouble must not stop the others
                    log.exception("task %s: supervision error", run.id)
            await watcher.wait(0.5)

    async def supervise(self, run: TaskRun) -> None:
        now = time.monotonic()
        if run.exit is None:
            run.exit = run.read_exit()
            if run.exit is not None:
                run.times.ended = now
        await self.stream.pump(run, final=run.exit is not None)
        if run.exit is None:
            timeout_s = run.record.timeout_s
            if timeout_s and time.time() - run.started_at > timeout_s:
                self.request_stop(run, "timeout", f"timed out after {timeout_s / 60:g} minutes")
            if now >= run.times.next_alive_check:
                run.times.next_alive_check = now + ALIVE_CHECK_S
                await self._check_gone(run, now)
            return
        if run.times.reporting or now < run.times.report_after:
            return
        if self._ready_to_report(run, now):
            run.times.reporting = True
            self.spawn(self.report(run), f"report-{run.id}")

    def _ready_to_report(self, run: TaskRun, now: float) -> bool:
        """All output acknowledged; or ``report_ack_timeout`` spent on a working WebSocket without
        a new ack; or the WebSocket has been down for ``WS_DOWN_REPORT_S`` since the task ended.

        The wait restarts with every ack: a hub that stores slowly but steadily (a busy machine:
        4-6 MB/s for a task that printed 100 MB in 2 s) is not a hub that stopped answering.
        Counted from the task's end instead, the daemon reported after 10 s and forgot the task,
        and the last 5-20 MB of its log never reached the hub (benchmarks/bench_output.py,
        2026-12-06, load average 11-18)."""
        if run.track.caught_up:
            return True
        if self.stream.ws.ready:
            if run.times.ack_wait_from is None or run.track.acked != run.times.ack_wait_acked:
                run.times.ack_wait_from, run.times.ack_wait_acked = now, run.track.acked
            late = now - run.times.ack_wait_from >= self.cfg.report_ack_timeout
        else:
            late = now - (run.times.ended or now) >= WS_DOWN_REPORT_S
        if late:
            log.warning("task %s: reporting before the hub acknowledged all output (%d/%d bytes)",
                        run.id, run.track.acked, run.track.size)
        return late

    async def _check_gone(self, run: TaskRun, now: float) -> None:
        if run.runner_alive():
            run.times.seen = now
            return
        if await asyncio.to_thread(self.backend.is_alive, run.session):
            run.times.seen = now
            return
        if now - run.times.seen < GONE_GRACE_S:
            return
        if run.read_exit() is None:
            log.error("task %s: session %s ended without recording an exit status", run.id, run.session)
            run.exit = {"exit_code": None, "error": self.backend.ended_error(run.session)}
            run.times.ended = now

    # ------------------------------------------------------------------ stopping
    def request_stop(self, run: TaskRun, kind: str, reason: str) -> None:
        if run.times.stopping is not None or run.exit is not None:
            return
        run.mark_stopping(kind, reason)
        log.info("task %s: stopping (%s: %s)", run.id, kind, reason)
        run.times.stopping = self.spawn(self.escalate(run), f"stop-{run.id}")

    async def escalate(self, run: TaskRun) -> None:
        """SIGINT, then SIGTERM, then SIGKILL to the runner's process group, ``kill_grace_seconds`` apart."""
        grace = self.cfg.session.kill_grace_seconds
        for sig in T.STOP_SIGNALS:
            if run.exit is not None or run.read_exit() is not None:
                return
            run.signal(sig)
            deadline = time.monotonic() + (grace if sig != signal.SIGKILL else max(grace, 5.0))
            while time.monotonic() < deadline:
                if run.read_exit() is not None or not run.runner_alive():
                    break
                await asyncio.sleep(0.02)
            else:
                continue
            return

    # ------------------------------------------------------------------ the end
    async def report(self, run: TaskRun) -> None:
        try:
            prepared = run.record.workspace
            if prepared is not None and not run.times.workspace_sent:  # before complete/fail: the hub has it then
                await finish_and_send(self.client, prepared, run.record.task.title, self.cfg.workspace.author)
                run.times.workspace_sent = True
            await send_report(self.client, run, self.runners.get(run.runner))
            self.finish(run)
        except (ConflictError, NotFoundError) as err:
            log.info("task %s: the hub no longer takes a report (%s)", run.id, err)
            self.finish(run)
        except Exception as err:  # noqa: BLE001 - keep the task and retry
            log.warning("task %s: report failed (%s); retrying in 5 s", run.id, err)
            run.times.report_after = time.monotonic() + (30 if isinstance(err, AuthError) else 5)
        finally:
            run.times.reporting = False

    def finish(self, run: TaskRun) -> None:
        """The hub has the report (or no longer takes one): forget the task, remove its files."""
        self.admission.finished(run.id)
        if run.temp_dir:  # a no-repo task's working dir may be big: removed in a thread
            self.spawn(asyncio.to_thread(workdir.retire, run), f"retire-{run.id}")
        else:
            run.files.cleanup()
        self.spawn(self.human.task_finished(run.id), f"human-end-{run.id}")
        self.on_finished()

    # ------------------------------------------------------------------ restart
    def adopt_saved(self) -> None:
        """Adopt every task the daemon was running before it stopped (``task-<id>.json``)."""
        for run in T.saved_runs(self.cfg.pid_dir, self.cfg.log_dir):
            run.track.size, run.track.acks = file_size(run.files.log), True
            self.admission.adopt(run)
            ended = run.read_exit() is not None
            log.info("adopted task %s (%s, session %s)", run.id,
                     "ended while the daemon was down" if ended else "still running", run.session)
            if run.stop_kind and not ended:  # a cancel/timeout was under way: finish stopping it
                kind, run.record.stop_kind = run.stop_kind, None
                self.request_stop(run, kind, run.stop_reason)
