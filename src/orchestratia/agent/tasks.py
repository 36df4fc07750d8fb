"""One task on this agent: its files, its launch, signals to it, its state on disk.

Files per task (see docs/agent.md):
  log_dir/task-<id>.log          raw output of the runner (stdout+stderr), the offset source of truth
  pid_dir/task-<id>.json         the daemon's record (task, runner, session, start time) - adopted on restart
  pid_dir/task-<id>.launch.json  the launcher's spec (argv, cwd, env), 0600
  pid_dir/task-<id>.stdin        the prompt when it goes on stdin, 0600
  pid_dir/task-<id>.sh           the shell runner's script, 0600
  pid_dir/task-<id>.pid          the runner's pid (= its process group), written by the launcher
  pid_dir/task-<id>.exit         {"exit_code", "signal", "ended_at", ...}, written atomically by the launcher
A task with no repo runs in its own temporary directory (``$TMPDIR/orc-<id[:8]>-*``, recorded in
the task's record), removed with the records once the hub has the report (:func:`retire`).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from orchestratia.protocol import TaskPayload

from . import launcher
from .output import OutputTrack
from .runners import SCRIPT_PLACEHOLDER, LaunchPlan
from .sessions import SessionBackend, session_name

LAUNCHER_PATH = str(Path(launcher.__file__).resolve())
log = logging.getLogger("orchestratia.agent")


@dataclass
class TaskFiles:
    log: Path
    state: Path
    spec: Path
    stdin: Path
    script: Path
    pid: Path
    exit: Path

    @classmethod
    def for_task(cls, task_id: str, log_dir: Path, pid_dir: Path) -> TaskFiles:
        base = f"task-{task_id}"
        return cls(log=log_dir / f"{base}.log", state=pid_dir / f"{base}.json", spec=pid_dir / f"{base}.launch.json",
                   stdin=pid_dir / f"{base}.stdin", script=pid_dir / f"{base}.sh", pid=pid_dir / f"{base}.pid",
                   exit=pid_dir / f"{base}.exit")

    def cleanup(self) -> None:
        """Remove everything but the log (the log stays for the operator)."""
        for p in (self.state, self.spec, self.stdin, self.script, self.pid, self.exit):
            try:
                p.unlink()
            except FileNotFoundError:
                pass


@dataclass
class TaskRun:
    task: TaskPayload
    runner: str
    backend: str
    session: str
    files: TaskFiles
    started_at: float  # epoch seconds
    timeout_s: float | None
    track: OutputTrack
    exit: dict[str, Any] | None = None
    stop_kind: str | None = None  # "cancel" | "timeout"
    stop_reason: str = ""
    stopping: Any = None  # the escalation asyncio.Task
    reporting: bool = False
    report_after: float = 0.0  # monotonic time before which a failed report is not retried
    ended_mono: float | None = None
    ack_wait_from: float | None = None  # when the daemon began waiting, on a live WebSocket, for acks
    seen_mono: float = field(default_factory=time.monotonic)
    next_alive_check: float = 0.0
    temp_dir: str | None = None  # the working dir made for a task with no repo; removed by retire()

    @property
    def id(self) -> str:
        return self.task.id

    def state(self) -> dict[str, Any]:
        return {"task": self.task.model_dump(mode="json"), "runner": self.runner, "backend": self.backend,
                "session": self.session, "started_at": self.started_at, "timeout_s": self.timeout_s,
                "stop_kind": self.stop_kind, "stop_reason": self.stop_reason, "temp_dir": self.temp_dir}

    def save(self) -> None:
        launcher.write_atomic(str(self.files.state), json.dumps(self.state()).encode(), 0o600)

    @classmethod
    def load(cls, path: Path, log_dir: Path, pid_dir: Path) -> TaskRun:
        data = json.loads(path.read_text())
        task = TaskPayload.model_validate(data["task"])
        run = cls(task=task, runner=data["runner"], backend=data["backend"], session=data["session"],
                  files=TaskFiles.for_task(task.id, log_dir, pid_dir), started_at=float(data["started_at"]),
                  timeout_s=data.get("timeout_s"), track=OutputTrack(task.id))
        run.stop_kind = data.get("stop_kind")
        run.stop_reason = data.get("stop_reason") or ""
        run.temp_dir = data.get("temp_dir") or None
        return run

    def read_exit(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.files.exit.read_text())
        except FileNotFoundError:
            return None
        except ValueError:  # written atomically, so this is not a partial write: treat as unknown
            return {"exit_code": None, "error": "unreadable exit file"}

    def runner_pid(self) -> int | None:
        try:
            return int(self.files.pid.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def signal(self, sig: int) -> bool:
        """Send ``sig`` to the runner's process group. False when there is nothing to signal."""
        pid = self.runner_pid()
        if pid is None:
            return False
        try:
            os.killpg(pid, sig)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return False

    def runner_alive(self) -> bool:
        pid = self.runner_pid()
        if pid is None:
            return False
        if psutil.boot_time() > self.started_at + 1:  # rebooted since: the pid belongs to someone else
            return False
        try:
            os.killpg(pid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False


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


def saved_runs(pid_dir: Path, log_dir: Path) -> list[TaskRun]:
    """The daemon's records of tasks not reported yet (``pid_dir/task-<id>.json``)."""
    runs = []
    for path in sorted(pid_dir.glob("task-*.json")):
        if path.name.endswith(".launch.json"):
            continue
        try:
            runs.append(TaskRun.load(path, log_dir, pid_dir))
        except (OSError, ValueError, KeyError) as err:
            log.warning("ignoring unreadable task record %s: %s", path, err)
    return runs


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
    launcher.write_atomic(str(path), data, 0o600)


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
    # a fresh, empty log: offsets of this run start at 0 (the hub's next_offset for a new task)
    fd = os.open(files.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
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


def new_run(task: TaskPayload, runner: str, backend: str, log_dir: Path, pid_dir: Path,
            timeout_minutes: float | None, temp_dir: str | None = None) -> TaskRun:
    return TaskRun(task=task, runner=runner, backend=backend, session=session_name(task.id),
                   files=TaskFiles.for_task(task.id, log_dir, pid_dir), started_at=time.time(),
                   timeout_s=timeout_minutes * 60 if timeout_minutes else None, track=OutputTrack(task.id),
                   temp_dir=temp_dir)


def temp_dir_prefix(task_id: str) -> str:
    return f"orc-{task_id[:8]}-"


def make_temp_dir(task_id: str) -> str:
    """A fresh working directory for a task with no repo (0700, under ``$TMPDIR``)."""
    return tempfile.mkdtemp(prefix=temp_dir_prefix(task_id))


def _make_writable(top: Path) -> None:
    """Give the owner rwx on ``top`` and every directory under it (symlinks untouched), so that
    what a task left read-only (e.g. a Go module cache) can be removed. Top-down: a directory is
    made readable before the walk lists it."""
    def allow(d: str) -> None:
        try:
            if not os.path.islink(d):
                os.chmod(d, os.stat(d).st_mode | stat.S_IRWXU)
        except OSError:
            pass

    allow(str(top))
    for root, dirs, _files in os.walk(top):
        for name in dirs:
            allow(os.path.join(root, name))


def remove_temp_dir(run: TaskRun) -> bool:
    """Remove the task's temporary working directory with everything in it. Only a directory
    named for this task (``orc-<id[:8]>-*``, not a symlink) is removed. True when it is gone."""
    if not run.temp_dir:
        return True
    path = Path(run.temp_dir)
    if not path.name.startswith(temp_dir_prefix(run.id)) or path.is_symlink():
        log.warning("task %s: not removing %s: not a working directory made for this task", run.id, path)
        return False
    for attempt in (1, 2):
        if not os.path.lexists(path):
            return True
        try:
            shutil.rmtree(path)
            return True
        except OSError as err:
            if attempt == 2:
                log.warning("task %s: could not remove its temporary working directory %s: %s", run.id, path, err)
                return False
            _make_writable(path)
    return False


def retire(run: TaskRun) -> None:
    """After the hub has the report: the temporary working directory (if any), then every file
    in pid_dir for the task. The records go last, so a daemon stopped in between adopts the task
    again, reports it again (the hub answers 409) and retries. Blocking (a big directory)."""
    remove_temp_dir(run)
    run.files.cleanup()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
