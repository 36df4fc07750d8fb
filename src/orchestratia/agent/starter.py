"""Starting a task: check that this agent can run it, claim it on the hub (``start``), make its
files and start its session with the launcher in it (:mod:`.launcher`); a task that cannot
start is reported failed with what to do about it."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from orchestratia.protocol import TaskPayload
from orchestratia.protocol.shared import write_atomic

from . import launcher
from . import tasks as T
from . import workdir
from .admission import Admission
from .client import AuthError, ConflictError, HubClient, NotFoundError
from .human_link import HumanLink
from .runners import SCRIPT_PLACEHOLDER, LaunchPlan, plan_run
from .sessions import SessionBackend, SessionError
from .streaming import OutputStream
from .task_workspace import prepare_for, remove_unused
from .tasks import TaskRun
from .workspaces import Prepared

LAUNCHER_PATH = str(Path(launcher.__file__).resolve())
log = logging.getLogger("orchestratia.agent")


@functools.lru_cache(maxsize=1)
def package_pythonpath() -> str | None:
    """Where the ``orchestratia`` package lives, when this Python cannot import it by itself
    (the daemon runs from a clone through daemon.py): tasks then get it on PYTHONPATH so that
    ``python -m orchestratia.agent.human`` (ask_human, the approval hook) works inside them."""
    import orchestratia

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    try:
        probe = subprocess.run([sys.executable, "-c", "import orchestratia"], env=env, capture_output=True,
                               timeout=30, cwd="/")
    except (OSError, subprocess.TimeoutExpired):
        return None
    return None if probe.returncode == 0 else str(Path(orchestratia.__file__).resolve().parent.parent)


def launch_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The task's environment: the daemon's minus every ORCHESTRATIA_* variable, plus ``extra``
    (the per-task variables of the help relay, which the launcher lets through)."""
    env = launcher.clean_env(dict(os.environ))
    pkg = package_pythonpath()
    if pkg and pkg not in env.get("PYTHONPATH", "").split(os.pathsep):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), pkg) if p)
    env.update({k: v for k, v in (extra or {}).items() if not k.startswith("ORCHESTRATIA_")
                or k in launcher.TASK_ENV_ALLOWED})
    return env


def write_private(path: Path, data: bytes) -> None:
    write_atomic(path, data, 0o600)


def launch(run: TaskRun, plan: LaunchPlan, cwd: str, backend: SessionBackend) -> None:
    """Write the launcher's spec and start the session. Raises SessionError / OSError."""
    files = run.files
    for p in (files.pid, files.exit):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
    argv = list(plan.argv)
    if plan.script is not None:
        write_private(files.script, plan.script.encode("utf-8", errors="replace"))
        argv = [str(files.script) if a == SCRIPT_PLACEHOLDER else a for a in argv]
    stdin_path = None
    if plan.stdin_data is not None:
        write_private(files.stdin, plan.stdin_data)
        stdin_path = str(files.stdin)
    env = launch_env(plan.env)
    spec = {"task_id": run.id, "argv": argv, "cwd": cwd, "log_path": str(files.log), "pid_path": str(files.pid),
            "exit_path": str(files.exit), "stdin_path": stdin_path, "env": env}
    write_private(files.spec, json.dumps(spec).encode())
    # a fresh, empty log: offsets of this run start at 0 (the hub's next_offset for a new task);
    # a parked task resuming itself appends to its log, whose offsets the hub holds already
    fd = os.open(files.log, os.O_WRONLY | os.O_CREAT | (0 if run.track.sent else os.O_TRUNC), 0o640)
    os.close(fd)
    run.save()
    backend.start(run.session, [sys.executable, LAUNCHER_PATH, str(files.spec)], env=env, cwd=cwd)


def check_task(task: TaskPayload, cfg: Any, runners: dict[str, Any]) -> tuple[str | None, str, Any]:
    """(error or None, working directory, runner) for a task on this agent. The error says what
    is wrong and what to do on the agent: unknown runner, runner disabled or not installed,
    repo not configured or its directory missing."""
    name = task.runner or cfg.default_runner
    runner = runners.get(name)
    if runner is None:
        return f"unknown runner {name!r}; this agent knows {', '.join(runners)}", "", None
    why = runner.unavailable_reason()
    if why:
        return why, "", runner
    if not task.target_repo:
        return None, "", runner
    repo = cfg.repos.get(task.target_repo)
    if repo is None:
        have = ", ".join(sorted(cfg.repos)) or "none"
        return (f"repo {task.target_repo!r} is not configured on agent {cfg.agent_name!r} (it has: {have}); "
                "add it under repos: in the agent's config.yaml and restart the daemon", "", runner)
    if not Path(repo.path).is_dir():
        return (f"repo {task.target_repo!r}: directory {repo.path} does not exist on agent {cfg.agent_name!r}; "
                f"clone it there or fix repos.{task.target_repo}.path", "", runner)
    return None, repo.path, runner


class TaskStarter:
    """Starts the tasks :class:`~.admission.Admission` lets through, one asyncio task each."""

    def __init__(self, cfg: Any, client: HubClient, backend: SessionBackend, runners: dict[str, Any],
                 admission: Admission, stream: OutputStream, human: HumanLink) -> None:
        self.cfg = cfg
        self.client = client
        self.backend = backend
        self.runners = runners
        self.admission = admission
        self.stream = stream
        self.human = human
        #: called with the repo's name after a worktree was made for a task there (the daemon
        #: prepares the repo's next spare worktree then)
        self.prepared_hook: Callable[[str], None] | None = None

    async def start(self, task: TaskPayload) -> None:
        run = None
        try:
            run = await self._start(task)
        finally:
            self.admission.started(task.id, run)
        if run is not None:
            self.stream.poke()

    async def _start(self, task: TaskPayload) -> TaskRun | None:
        error, cwd, runner = check_task(task, self.cfg, self.runners)
        if error:
            log.error("task %s cannot run here: %s", task.id, error)
            await self.report_failure(task.id, error, "launch_failed")
            return None
        if not await self._claim(task.id):
            return None
        if (reason := self.admission.cancel_reason(task.id)) is not None:
            await self.report_failure(task.id, f"cancelled before start: {reason}", "cancelled")
            return None
        prepared = None
        if cwd:  # a repo: its own worktree and branch, or the checkout itself
            prepared = await prepare_for(task, self.cfg)
            if isinstance(prepared, str):
                log.error("task %s: %s", task.id, prepared)
                await self.report_failure(task.id, prepared, "launch_failed")
                return None
            cwd = str(prepared.path)
            if prepared.kind == "worktree" and self.prepared_hook is not None:
                self.prepared_hook(task.target_repo)
        try:
            temp_dir = None if cwd else workdir.make_temp_dir(task.id)  # no repo: removed once reported
        except OSError as err:
            await self.report_failure(task.id, f"the agent could not make a working directory for the task: {err}",
                                      "launch_failed")
            return None
        return await self._launch(task, runner, cwd or temp_dir, temp_dir, prepared)

    async def _claim(self, task_id: str) -> bool:
        """``start`` on the hub: True when the task is ours to run now."""
        try:
            await self.client.start(task_id)
            return True
        except (ConflictError, NotFoundError) as err:
            log.info("task %s not started: %s", task_id, err)
        except AuthError as err:
            log.error("%s", err)
        except Exception as err:  # noqa: BLE001 - the hub is unreachable; poll brings it back
            log.warning("task %s: start failed (%s); will retry on the next poll", task_id, err)
        return False

    async def _launch(self, task: TaskPayload, runner: Any, cwd: str, temp_dir: str | None,
                      prepared: Prepared | None = None) -> TaskRun | None:
        timeout = task.timeout_minutes or runner.timeout_minutes
        run = T.new_run(task, runner.name, self.backend.name, self.cfg.log_dir, self.cfg.pid_dir, timeout, temp_dir,
                        prepared)
        run.track.acks = self.stream.acks_expected()
        try:
            resume = task.resume
            plan, resumed = plan_run(runner, task.spec, resume.session_id if resume else None,
                                     resume.message if resume else None)
            if resumed and resume is not None:
                log.info("task %s continues %s conversation %s", task.id, runner.name, resume.session_id)
            if task.max_cost_usd and (limit := runner.cost_limit_args(task.max_cost_usd)):
                plan.argv = [*plan.argv, *limit]
            self.human.prepare(task, runner.name, plan)
            await asyncio.to_thread(launch, run, plan, cwd, self.backend)
        except (SessionError, OSError, ValueError) as err:
            log.error("task %s: cannot start a %s session: %s", task.id, self.backend.name, err)
            await asyncio.to_thread(workdir.retire, run)
            if prepared is not None:  # nothing ran in it: no worktree or branch is left behind
                await asyncio.to_thread(remove_unused, prepared)
            await self.human.task_finished(task.id)
            await self.report_failure(task.id, f"the agent could not start the task: {err}", "launch_failed")
            return None
        hint = self.backend.attach_hint(run.session)
        log.info("task %s started: runner %s in %s, session %s%s", task.id, runner.name, cwd, run.session,
                 f" (attach: {hint})" if hint else "")
        return run

    async def report_failure(self, task_id: str, error: str, cause: str | None = None) -> None:
        """``fail`` on the hub (with the cause: docs/scheduling.md, "Retries"); a hub that no
        longer takes it (409/404), or no hub, is let be."""
        try:
            await self.client.fail(task_id, error, cause=cause)
        except (ConflictError, NotFoundError):
            pass
        except Exception as err:  # noqa: BLE001
            log.warning("task %s: could not report the failure: %s", task_id, err)

