"""The agent daemon's lifecycle: start-up, heartbeat, poll fallback, the WebSocket, shutdown.

The work itself is in parts: :mod:`.admission` (what may start now), :mod:`.starter` (claim and
launch a task), :mod:`.supervisor` (end, timeout, stop, report, adoption after a restart),
:mod:`.streaming` (output to the hub) and :mod:`.watcher` (wakes the loops on each write).

Entry points:
- ``run_daemon(config_path) -> int`` (synchronous): loads the config, registers first when the
  config has a ``registration_token`` and no ``api_key`` (the seed's flow), then runs until
  SIGTERM/SIGINT and returns 0. Task sessions are left running.
- ``await run_daemon_async(config, stop=None, reload=None) -> int``: the same inside a running
  event loop (``config`` is a path or an :class:`AgentConfig`; set ``stop`` to shut down, set
  ``reload`` to re-read the config, :mod:`.reload`). ``run_daemon`` sets it on SIGHUP and
  writes ``daemon.pid`` in ``pid_dir`` for ``orchestratia agent reload``.

On every start and reload the daemon sends the hub its capabilities (runners found, repos,
labels: ``POST /capabilities``), retried every :data:`CAPS_RETRY_S` until the hub has them.
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
)
from orchestratia.protocol.shared import wait_set
from orchestratia.protocol.workspace_actions import WsWorkspaceAction

from .admission import Admission
from .client import AuthError, HubClient, HubError, NotFoundError
from .config import AgentConfig, ConfigError, load_config
from .human_link import HumanLink
from .register import RegistrationError, register_from_config
from .reload import capabilities, read_again, reload_into, remove_pid_file, write_pid_file
from .runners import make_runners
from .sessions import get_backend
from .starter import TaskStarter
from .stats import system_info
from .streaming import OutputStream
from .supervisor import Supervisor
from .tasks import TaskRun
from .watcher import LogWatcher
from .workspace_actions import ActionRunner
from .workspace_upkeep import WorkspaceUpkeep
from .ws import HubSocket

log = logging.getLogger("orchestratia.agent")
#: a capabilities report the hub did not take is sent again this often
CAPS_RETRY_S = 5.0


class Daemon:
    def __init__(self, cfg: AgentConfig, client: HubClient | None = None) -> None:
        self.cfg = cfg
        self.client = client or HubClient(cfg.hub_url, cfg.api_key, cfg.ca_bundle)
        self.runners = make_runners(cfg)
        self.backend = get_backend(cfg.session.backend, cfg.session.tmux_socket)
        self.admission = Admission(cfg.max_concurrent_tasks)
        self.ws = HubSocket(cfg.hub_url, cfg.api_key, self, ca_bundle=cfg.ca_bundle)
        self.watcher: LogWatcher | None = None
        self.stop = asyncio.Event()
        self._bg: set[asyncio.Task[Any]] = set()
        self.poll_now = asyncio.Event()
        self.caps_due = asyncio.Event()  # the hub should hear our capabilities (start, reload)
        self.caps_due.set()
        self.reload: asyncio.Event | None = None  # set by SIGHUP (run_daemon)
        self.human = HumanLink(cfg)
        self.stream = OutputStream(self.admission.running, self.ws, self._poke)
        self.starter = TaskStarter(cfg, self.client, self.backend, self.runners, self.admission, self.stream,
                                   self.human)
        self.supervisor = Supervisor(cfg, self.client, self.backend, self.runners, self.admission, self.stream,
                                     self.human, self.spawn, self._slot_freed)
        # push / pull request / discard of finished tasks' branches, and the worktrees' upkeep
        self.upkeep = WorkspaceUpkeep(cfg, self._is_running)
        self.actions = ActionRunner(cfg, self.client, self._is_running, self.spawn, self.upkeep.changed)
        self.starter.prepared_hook = self.upkeep.warm

    @property
    def runs(self) -> dict[str, TaskRun]:
        """The tasks running on this agent, by id."""
        return self.admission.running

    # ------------------------------------------------------------------ main
    async def run(self, stop: asyncio.Event | None = None, reload: asyncio.Event | None = None) -> int:
        if stop is not None:
            self.stop = stop
        self.reload = reload
        await self._open()
        loops = [
            asyncio.create_task(self.heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self.poll_loop(), name="poll"),
            asyncio.create_task(self.ws.run(self.stop), name="ws"),
            asyncio.create_task(self.supervisor.run(self.watcher, self.stop), name="supervise"),  # type: ignore[arg-type]
            asyncio.create_task(self.capabilities_loop(), name="capabilities"),
            asyncio.create_task(self.upkeep.run(self.stop), name="workspace-upkeep"),
        ]
        if self.reload is not None:
            loops.append(asyncio.create_task(self.reload_loop(self.reload), name="reload"))
        log.info("agent %r running: hub %s, session backend %s, runners %s, max %d concurrent tasks",
                 self.cfg.agent_name, self.cfg.hub_url, self.backend.name,
                 ",".join(n for n, r in self.runners.items() if r.unavailable_reason() is None) or "none",
                 self.cfg.max_concurrent_tasks)
        if (warning := self.cfg.plaintext_warning()) is not None:
            log.warning("%s", warning)
        try:
            await self.stop.wait()
        finally:
            await self._close(loops)
        return 0

    async def _open(self) -> None:
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
            self.supervisor.adopt_saved()
        if self.reload is not None:
            write_pid_file(self.cfg)
        self.upkeep.warm()  # a spare worktree per worktree repo: the first task starts fast too

    async def _close(self, loops: list[asyncio.Task[Any]]) -> None:
        log.info("shutting down: no new tasks; %d task session(s) keep running", len(self.runs))
        pending = [t for t in self._bg if not t.done() and t.get_name().startswith("start-")]
        if pending:  # let task starts that already told the hub finish launching
            await asyncio.wait(pending, timeout=10)
        await asyncio.wait([loops[2]], timeout=3)  # the WebSocket closes cleanly on stop
        for t in loops + list(self._bg):
            t.cancel()
        await asyncio.gather(*loops, *self._bg, return_exceptions=True)
        if self.watcher is not None:
            self.watcher.close()
        if self.reload is not None:
            remove_pid_file(self.cfg)
        await self.human.close()
        await self.client.aclose()

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        t = asyncio.create_task(coro, name=name)
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)
        return t

    # ------------------------------------------------------------------ loops
    async def heartbeat_loop(self) -> None:
        while not self.stop.is_set():
            try:
                info = await asyncio.to_thread(system_info)
                disk = self.upkeep.disk.model_dump(mode="json") if self.upkeep.disk is not None else None
                await self.client.heartbeat(info, active_tasks=sorted(self.runs), workspace_disk=disk)
            except AuthError as err:
                log.error("%s", err)
            except (HubError, OSError, Exception) as err:  # noqa: BLE001 - keep beating
                log.warning("heartbeat failed: %s", err)
            await wait_set(self.stop, self.cfg.heartbeat_interval)

    async def capabilities_loop(self) -> None:
        """Tell the hub what this agent can run now, whenever ``caps_due`` is set."""
        while not self.stop.is_set():
            await wait_set(self.caps_due, 3600)
            if self.stop.is_set() or not self.caps_due.is_set():
                continue
            self.caps_due.clear()
            try:
                body = await asyncio.to_thread(capabilities, self.cfg, dict(self.runners))
                await self.client.capabilities(body.model_dump())
                log.info("the hub has this agent's capabilities: runners %s, repos %s, labels %s",
                         ",".join(body.runners) or "none", ",".join(sorted(body.repos)) or "none",
                         ",".join(body.labels) or "none")
            except AuthError as err:  # revoked or replaced: retrying cannot help (the heartbeat says so too)
                log.error("reporting capabilities: %s", err)
            except NotFoundError:
                log.info("the hub does not take capability reports (an older hub): it keeps what "
                         "registration sent; re-register to change it")
            except Exception as err:  # noqa: BLE001 - the hub is away: try again shortly
                log.warning("reporting capabilities failed (retrying in %.0f s): %s", CAPS_RETRY_S, err)
                self.spawn(self._caps_later(), name="caps-retry")

    async def _caps_later(self) -> None:
        if not await wait_set(self.stop, CAPS_RETRY_S):
            self.caps_due.set()

    async def reload_loop(self, reload: asyncio.Event) -> None:
        while not self.stop.is_set():
            await wait_set(reload, 3600)
            if reload.is_set():
                reload.clear()
                await self.reload_config()

    async def reload_config(self) -> bool:
        """Re-read config.yaml (repos, runners, labels); a bad one keeps the running config."""
        try:
            fresh = await asyncio.to_thread(read_again, self.cfg)
            restart = reload_into(self.cfg, self.runners, fresh)  # here: the loops read cfg and runners
        except (ConfigError, OSError) as err:
            log.error("config reload failed; keeping the running config: %s", err)
            return False
        log.info("config reloaded from %s", self.cfg.config_path)
        if restart:
            log.warning("config reload: %s changed; restart the daemon to apply", ", ".join(restart))
        self.caps_due.set()
        return True

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
                    await self.actions.fetch()  # pushes and discards (poll-only daemons, lost pushes)
                except AuthError as err:
                    log.error("%s", err)
                except Exception as err:  # noqa: BLE001
                    log.warning("poll failed: %s", err)
            await wait_set(self.poll_now, min(1.0, interval))

    # ------------------------------------------------------------------ WebSocket callbacks
    def on_connected(self) -> list[dict[str, Any]]:
        return self.stream.hello_tasks()

    async def on_ready(self, resume: dict[str, int] | None) -> None:
        self.poll_now.set()
        self.stream.on_ready(resume)

    def on_disconnected(self) -> None:
        if self.stop.is_set():
            return
        log.warning("WebSocket disconnected; polling every %.0f s until it is back", self.cfg.poll_interval)

    async def on_message(self, msg: Any) -> None:
        if isinstance(msg, (WsAck, WsResend, WsResume)):
            self.stream.on_message(msg)
        elif isinstance(msg, WsTaskAssigned):
            self.submit(msg.task)
        elif isinstance(msg, WsTaskCancel):
            self.cancel(msg.task_id, msg.reason or "cancelled from the hub")
        elif isinstance(msg, WsInterventionAnswered):
            log.info("task %s: intervention %s answered", msg.task_id, msg.intervention_id)
            self.human.answered(msg.intervention_id, msg.response, msg.task_id)
        elif isinstance(msg, WsWorkspaceAction):
            self.actions.offer(msg.action)
        elif isinstance(msg, WsError):
            log.warning("the hub reported an error: %s", msg.detail)

    def _poke(self) -> None:
        if self.watcher is not None:
            self.watcher.poke()

    # ------------------------------------------------------------------ tasks
    def submit(self, task: TaskPayload) -> None:
        if self.stop.is_set() or not self.admission.offer(task):
            return
        self.spawn(self.starter.start(task), name=f"start-{task.id}")

    def cancel(self, task_id: str, reason: str) -> None:
        run = self.admission.cancel(task_id, reason)
        if run is not None:
            self.supervisor.request_stop(run, "cancel", reason)

    def _is_running(self, task_id: str) -> bool:
        """The task runs here, or a reply continuing it runs in its worktree (a thread shares the
        worktree named after its first task): then prune, push and discard must leave it alone."""
        if task_id in self.runs or self.admission.is_starting(task_id):
            return True
        return any((r := run.record.task.resume) is not None and r.worktree_of == task_id for run in self.runs.values())

    def _slot_freed(self) -> None:
        self.upkeep.changed()  # a task ended: its worktree's size is final
        while (task := self.admission.next_waiting()) is not None:
            self.submit(task)
        self.poll_now.set()


async def run_daemon_async(config: str | Path | AgentConfig, stop: asyncio.Event | None = None,
                           reload: asyncio.Event | None = None) -> int:
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
        return await Daemon(cfg).run(stop, reload)
    except OSError as err:
        log.error("%s (check that the daemon may write session.log_dir and session.pid_dir)", err)
        return 1


def run_daemon(config_path: str | Path) -> int:
    """Run the daemon until SIGTERM or SIGINT (synchronous; owns the event loop). Returns 0 on a
    clean shutdown, 2 for a bad config or registration, 1 for other fatal errors."""
    from .logsetup import configure_daemon_logging

    configure_daemon_logging()  # ORCHESTRATIA_LOG_LEVEL; secrets masked at every level

    async def main() -> int:
        stop, reload = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, reload.set)
        return await run_daemon_async(config_path, stop, reload)

    return asyncio.run(main())
