"""The agent daemon: heartbeat, WebSocket, poll fallback, task supervision, shutdown.

Entry points:
- ``run_daemon(config_path) -> int`` (synchronous): loads the config, registers first when the
  config has a ``registration_token`` and no ``api_key`` (the seed's flow), then runs until
  SIGTERM/SIGINT and returns 0. Task sessions are left running.
- ``await run_daemon_async(config, stop=None) -> int``: the same inside a running event loop
  (``config`` is a path or an :class:`AgentConfig`; set ``stop`` to shut down).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path
from typing import Any

from orchestratia.protocol import (
    TaskPayload,
    WsAck,
    WsError,
    WsInterventionAnswered,
    WsResend,
    WsResume,
    WsTaskAssigned,
    WsTaskCancel,
    encode_output,
)

from . import tasks as T
from .client import AuthError, ConflictError, HubClient, HubError, NotFoundError
from .config import AgentConfig, ConfigError, load_config
from .human_link import HumanLink
from .output import LogWatcher, file_size, read_range
from .register import RegistrationError, register_from_config
from .report import send_report
from .runners import make_runners
from .sessions import SessionError, get_backend
from .stats import system_info
from .ws import HubSocket

log = logging.getLogger("orchestratia.agent")
GONE_GRACE_S = 10.0  # a session that vanished without an exit file is declared dead after this
ALIVE_CHECK_S = 2.0
WS_DOWN_REPORT_S = 120.0  # with no WebSocket, a finished task is reported after this anyway


class Daemon:
    def __init__(self, cfg: AgentConfig, client: HubClient | None = None) -> None:
        self.cfg = cfg
        self.client = client or HubClient(cfg.hub_url, cfg.api_key, cfg.ca_bundle)
        self.runners = make_runners(cfg)
        self.backend = get_backend(cfg.session.backend, cfg.session.tmux_socket)
        self.runs: dict[str, T.TaskRun] = {}
        self.starting: set[str] = set()
        self.backlog: dict[str, TaskPayload] = {}
        self.cancelled_early: dict[str, str] = {}
        self.ws = HubSocket(cfg.hub_url, cfg.api_key, self, ca_bundle=cfg.ca_bundle)
        self.watcher: LogWatcher | None = None
        self.stop = asyncio.Event()
        self._bg: set[asyncio.Task] = set()
        self.poll_now = asyncio.Event()
        self.human = HumanLink(cfg)

    # ------------------------------------------------------------------ main
    async def run(self, stop: asyncio.Event | None = None) -> int:
        if stop is not None:
            self.stop = stop
        self.cfg.log_dir.mkdir(parents=True, exist_ok=True)
        self.cfg.pid_dir.mkdir(parents=True, exist_ok=True)
        self.watcher = LogWatcher([self.cfg.log_dir, self.cfg.pid_dir], poll_s=self.cfg.session.tail_poll_ms / 1000,
                                  use_inotify=self.cfg.session.inotify)
        self.watcher.start()
        if not self.backend.available():
            log.error("%s is not installed (session.backend: %s): tasks will fail until it is "
                      "(sudo apt install -y %s) or session.backend is set to direct",
                      self.backend.binary, self.backend.name, self.backend.binary)
        await self.human.start()
        if self.cfg.session.reconcile_on_start:
            self.reconcile()
        loops = [
            asyncio.create_task(self.heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self.poll_loop(), name="poll"),
            asyncio.create_task(self.ws.run(self.stop), name="ws"),
            asyncio.create_task(self.supervise_loop(), name="supervise"),
        ]
        log.info("agent %r running: hub %s, session backend %s, runners %s, max %d concurrent tasks",
                 self.cfg.agent_name, self.cfg.hub_url, self.backend.name,
                 ",".join(n for n, r in self.runners.items() if r.unavailable_reason() is None) or "none",
                 self.cfg.max_concurrent_tasks)
        if (warning := self.cfg.plaintext_warning()) is not None:
            log.warning("%s", warning)
        try:
            await self.stop.wait()
        finally:
            log.info("shutting down: no new tasks; %d task session(s) keep running", len(self.runs))
            pending = [t for t in self._bg if not t.done() and t.get_name().startswith("start-")]
            if pending:  # let task starts that already told the hub finish launching
                await asyncio.wait(pending, timeout=10)
            await asyncio.wait([loops[2]], timeout=3)  # the WebSocket closes cleanly on stop
            for t in loops + list(self._bg):
                t.cancel()
            await asyncio.gather(*loops, *self._bg, return_exceptions=True)
            self.watcher.close()
            await self.human.close()
            await self.client.aclose()
        return 0

    def spawn(self, coro: Any, name: str) -> asyncio.Task:
        t = asyncio.create_task(coro, name=name)
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)
        return t

    # ------------------------------------------------------------------ loops
    async def heartbeat_loop(self) -> None:
        while not self.stop.is_set():
            try:
                info = await asyncio.to_thread(system_info)
                await self.client.heartbeat(info, active_tasks=sorted(self.runs))
            except AuthError as err:
                log.error("%s", err)
            except (HubError, OSError, Exception) as err:  # noqa: BLE001 - keep beating
                log.warning("heartbeat failed: %s", err)
            await self._sleep(self.cfg.heartbeat_interval)

    async def poll_loop(self) -> None:
        last = 0.0
        while not self.stop.is_set():
            interval = self.cfg.safety_poll_interval if self.ws.extended else self.cfg.poll_interval
            now = time.monotonic()
            if self.poll_now.is_set() or now - last >= interval:
                self.poll_now.clear()
                last = now
                try:
                    for task in await self.client.poll():
                        self.submit(task)
                except AuthError as err:
                    log.error("%s", err)
                except Exception as err:  # noqa: BLE001
                    log.warning("poll failed: %s", err)
            try:
                await asyncio.wait_for(self.poll_now.wait(), min(1.0, interval))
            except asyncio.TimeoutError:
                pass

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def supervise_loop(self) -> None:
        assert self.watcher is not None
        while not self.stop.is_set():
            if not self.runs:
                await self.watcher.wait(1.0)
                continue
            for run in list(self.runs.values()):
                try:
                    await self.supervise(run)
                except Exception:  # noqa: BLE001 - one task's trouble must not stop the others
                    log.exception("task %s: supervision error", run.id)
            await self.watcher.wait(0.5)

    # ------------------------------------------------------------------ WebSocket callbacks
    def on_connected(self) -> list[dict[str, Any]]:
        return [{"task_id": r.id, "log_size": file_size(r.files.log)} for r in self.runs.values()]

    async def on_ready(self, resume: dict[str, int] | None) -> None:
        for run in self.runs.values():
            if resume is None:
                run.track.acks = False
            elif run.id in resume:
                run.track.acks = True
                run.track.on_resume(resume[run.id])
            else:  # the hub does not hold it as running: send what is left, do not wait for acks
                run.track.acks = False
        self.poll_now.set()
        self._poke()

    def on_disconnected(self) -> None:
        if self.stop.is_set():
            return
        log.warning("WebSocket disconnected; polling every %.0f s until it is back", self.cfg.poll_interval)

    async def on_message(self, msg: Any) -> None:
        if isinstance(msg, WsAck):
            run = self.runs.get(msg.task_id)
            if run:
                run.track.on_ack(msg.next_offset)
                self._poke()
        elif isinstance(msg, WsResend):
            run = self.runs.get(msg.task_id)
            if run:
                run.track.on_resend(msg.from_offset)
                self._poke()
        elif isinstance(msg, WsResume):
            for item in msg.tasks:
                if item.task_id in self.runs:
                    self.runs[item.task_id].track.on_resume(item.next_offset)
            self._poke()
        elif isinstance(msg, WsTaskAssigned):
            self.submit(msg.task)
        elif isinstance(msg, WsTaskCancel):
            self.cancel(msg.task_id, msg.reason or "cancelled from the hub")
        elif isinstance(msg, WsInterventionAnswered):
            self.intervention_answered(msg)
        elif isinstance(msg, WsError):
            log.warning("the hub reported an error: %s", msg.detail)

    def _poke(self) -> None:
        if self.watcher is not None:
            self.watcher.poke()

    # ------------------------------------------------------------------ tasks
    def submit(self, task: TaskPayload) -> None:
        if self.stop.is_set() or task.id in self.runs or task.id in self.starting:
            return
        if len(self.runs) + len(self.starting) >= self.cfg.max_concurrent_tasks:
            self.backlog[task.id] = task
            return
        self.backlog.pop(task.id, None)
        self.starting.add(task.id)
        self.spawn(self.start_task(task), name=f"start-{task.id}")

    def _start_backlog(self) -> None:
        for task in list(self.backlog.values()):
            if len(self.runs) + len(self.starting) >= self.cfg.max_concurrent_tasks:
                return
            self.backlog.pop(task.id, None)
            self.submit(task)

    def check_task(self, task: TaskPayload) -> tuple[str | None, str, Any]:
        """(error or None, cwd, runner): an unknown repo or an unusable runner is an error."""
        return T.check_task(task, self.cfg, self.runners)

    async def start_task(self, task: TaskPayload) -> None:
        try:
            await self._start_task(task)
        finally:
            self.starting.discard(task.id)

    async def _start_task(self, task: TaskPayload) -> None:
        error, cwd, runner = self.check_task(task)
        if error:
            log.error("task %s cannot run here: %s", task.id, error)
            await self._report_quietly(task.id, error)
            return
        try:
            await self.client.start(task.id)
        except (ConflictError, NotFoundError) as err:
            log.info("task %s not started: %s", task.id, err)
            return
        except AuthError as err:
            log.error("%s", err)
            return
        except Exception as err:  # noqa: BLE001 - the hub is unreachable; poll brings it back
            log.warning("task %s: start failed (%s); will retry on the next poll", task.id, err)
            return
        if task.id in self.cancelled_early:
            await self._report_quietly(task.id, f"cancelled before start: {self.cancelled_early.pop(task.id)}")
            return
        try:
            temp_dir = None if cwd else T.make_temp_dir(task.id)  # no repo: removed once reported
        except OSError as err:
            await self._report_quietly(task.id, f"the agent could not make a working directory for the task: {err}")
            return
        cwd = cwd or temp_dir
        timeout = task.timeout_minutes or runner.timeout_minutes
        run = T.new_run(task, runner.name, self.backend.name, self.cfg.log_dir, self.cfg.pid_dir, timeout, temp_dir)
        run.track.acks = self.ws.extended or not self.ws.ready
        try:
            plan = runner.build(task.spec)
            self.human.prepare(task, runner.name, plan)
            await asyncio.to_thread(T.launch, run, plan, cwd, self.backend)
        except (SessionError, OSError) as err:
            log.error("task %s: cannot start a %s session: %s", task.id, self.backend.name, err)
            await asyncio.to_thread(T.retire, run)
            await self.human.task_finished(task.id)
            await self._report_quietly(task.id, f"the agent could not start the task: {err}")
            return
        self.runs[task.id] = run
        log.info("task %s started: runner %s in %s, session %s%s", task.id, runner.name, cwd, run.session,
                 f" (attach: {self.backend.attach_hint(run.session)})" if self.backend.attach_hint(run.session) else "")
        self._poke()

    async def _report_quietly(self, task_id: str, error: str, exit_code: int | None = None) -> None:
        try:
            await self.client.fail(task_id, error, exit_code=exit_code)
        except (ConflictError, NotFoundError):
            pass
        except Exception as err:  # noqa: BLE001
            log.warning("task %s: could not report the failure: %s", task_id, err)

    def cancel(self, task_id: str, reason: str) -> None:
        if self.backlog.pop(task_id, None) is not None:
            return
        if task_id in self.starting:
            self.cancelled_early[task_id] = reason
            return
        run = self.runs.get(task_id)
        if run is not None:
            self.request_stop(run, "cancel", reason)

    def request_stop(self, run: T.TaskRun, kind: str, reason: str) -> None:
        if run.stopping is not None or run.exit is not None:
            return
        run.stop_kind, run.stop_reason = kind, reason
        run.save()
        log.info("task %s: stopping (%s: %s)", run.id, kind, reason)
        run.stopping = self.spawn(self.escalate(run), name=f"stop-{run.id}")

    async def escalate(self, run: T.TaskRun) -> None:
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

    def intervention_answered(self, msg: WsInterventionAnswered) -> None:
        log.info("task %s: intervention %s answered", msg.task_id, msg.intervention_id)
        self.human.answered(msg.intervention_id, msg.response, msg.task_id)

    # ------------------------------------------------------------------ supervision
    async def supervise(self, run: T.TaskRun) -> None:
        now = time.monotonic()
        if run.exit is None:
            run.exit = run.read_exit()
            if run.exit is not None:
                run.ended_mono = now
        await self.pump(run, final=run.exit is not None)
        if run.exit is None:
            if run.timeout_s and time.time() - run.started_at > run.timeout_s:
                self.request_stop(run, "timeout", f"timed out after {run.timeout_s / 60:g} minutes")
            if now >= run.next_alive_check:
                run.next_alive_check = now + ALIVE_CHECK_S
                await self._check_gone(run, now)
            return
        if run.reporting or now < run.report_after:
            return
        if self._ready_to_report(run, now):
            run.reporting = True
            self.spawn(self.report(run), name=f"report-{run.id}")

    def _ready_to_report(self, run: T.TaskRun, now: float) -> bool:
        """All output acknowledged; or ``report_ack_timeout`` spent waiting on a working WebSocket;
        or the WebSocket has been down for ``WS_DOWN_REPORT_S`` since the task ended."""
        if run.track.caught_up:
            return True
        if self.ws.ready:
            run.ack_wait_from = run.ack_wait_from or now
            late = now - run.ack_wait_from >= self.cfg.report_ack_timeout
        else:
            late = now - (run.ended_mono or now) >= WS_DOWN_REPORT_S
        if late:
            log.warning("task %s: reporting before the hub acknowledged all output (%d/%d bytes)",
                        run.id, run.track.acked, run.track.size)
        return late

    async def _check_gone(self, run: T.TaskRun, now: float) -> None:
        if run.runner_alive():
            run.seen_mono = now
            return
        if await asyncio.to_thread(self.backend.is_alive, run.session):
            run.seen_mono = now
            return
        if now - run.seen_mono < GONE_GRACE_S:
            return
        if run.read_exit() is None:
            log.error("task %s: session %s ended without recording an exit status", run.id, run.session)
            run.exit = {"exit_code": None, "error": "the task's session ended without recording an exit status "
                                                    "(killed, or the machine rebooted)"}
            run.ended_mono = now

    async def pump(self, run: T.TaskRun, final: bool) -> None:
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
            for offset, chunk in run.track.plan(data, final=final):
                if not await self.ws.send(encode_output(run.id, chunk, offset)):
                    return
            # a short read, or bytes held back (the log ends inside a UTF-8 character): wait for
            # the next write (the watcher wakes us) or the task's end (final sends them as they are)
            if len(data) < n or run.track.sent - before < len(data):
                return

    async def report(self, run: T.TaskRun) -> None:
        try:
            await self._report(run)
        except (ConflictError, NotFoundError) as err:
            log.info("task %s: the hub no longer takes a report (%s)", run.id, err)
            self.finish(run)
        except Exception as err:  # noqa: BLE001 - keep the task and retry
            log.warning("task %s: report failed (%s); retrying in 5 s", run.id, err)
            run.report_after = time.monotonic() + (30 if isinstance(err, AuthError) else 5)
        finally:
            run.reporting = False

    async def _report(self, run: T.TaskRun) -> None:
        await send_report(self.client, run, self.runners.get(run.runner))
        self.finish(run)

    def finish(self, run: T.TaskRun) -> None:
        """The hub has the report (or no longer takes one): forget the task, remove its files."""
        self.runs.pop(run.id, None)
        if run.temp_dir:  # a no-repo task's working dir may be big: removed in a thread
            self.spawn(asyncio.to_thread(T.retire, run), name=f"retire-{run.id}")
        else:
            run.files.cleanup()
        self.spawn(self.human.task_finished(run.id), name=f"human-end-{run.id}")
        self._start_backlog()
        self.poll_now.set()

    # ------------------------------------------------------------------ restart
    def reconcile(self) -> None:
        """Adopt every task the daemon was running before it stopped (``task-<id>.json``)."""
        for run in T.saved_runs(self.cfg.pid_dir, self.cfg.log_dir):
            run.track.size, run.track.acks = file_size(run.files.log), True
            self.runs[run.id] = run
            ended = run.read_exit() is not None
            log.info("adopted task %s (%s, session %s)", run.id,
                     "ended while the daemon was down" if ended else "still running", run.session)
            if run.stop_kind and not ended:  # a cancel/timeout was under way: finish stopping it
                kind, run.stop_kind = run.stop_kind, None
                self.request_stop(run, kind, run.stop_reason)


async def run_daemon_async(config: str | Path | AgentConfig, stop: asyncio.Event | None = None) -> int:
    """Run the daemon in the current event loop until ``stop`` is set. Returns the exit code."""
    try:
        cfg = config if isinstance(config, AgentConfig) else load_config(config)
    except ConfigError as err:
        log.error("%s", err)
        return 2
    if not cfg.api_key:
        try:
            await register_from_config(cfg)
        except (RegistrationError, ConfigError) as err:
            log.error("%s", err)
            return 2
    try:
        return await Daemon(cfg).run(stop)
    except OSError as err:
        log.error("%s (check that the daemon may write session.log_dir and session.pid_dir)", err)
        return 1


def run_daemon(config_path: str | Path) -> int:
    """Run the daemon until SIGTERM or SIGINT (synchronous; owns the event loop). Returns 0 on a
    clean shutdown, 2 for a bad config or registration, 1 for other fatal errors."""
    from .logsetup import configure_daemon_logging

    configure_daemon_logging()  # ORCHESTRATIA_LOG_LEVEL; secrets masked at every level

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await run_daemon_async(config_path, stop)

    return asyncio.run(main())
