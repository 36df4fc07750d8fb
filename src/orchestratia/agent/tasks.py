"""One task on this agent: its files, its persisted record, its runtime state, signals to it.

Files per task (see docs/agent.md):
  log_dir/task-<id>.log          raw output of the runner (stdout+stderr), the offset source of truth
  pid_dir/task-<id>.json         the daemon's record (:class:`TaskRecord`) - adopted on restart
  pid_dir/task-<id>.launch.json  the launcher's spec (argv, cwd, env), 0600
  pid_dir/task-<id>.stdin        the prompt when it goes on stdin, 0600
  pid_dir/task-<id>.sh           the shell runner's script, 0600
  pid_dir/task-<id>.pid          the runner's pid (= its process group), written by the launcher
  pid_dir/task-<id>.exit         {"exit_code", "signal", "ended_at", ...}, written atomically by the launcher
A task with no repo runs in its own temporary directory (:mod:`.workdir`, recorded in the task's
record), removed with the records once the hub has the report.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from pydantic import BaseModel, ConfigDict, field_validator

from orchestratia.protocol import TaskPayload
from orchestratia.protocol.shared import write_atomic

from .log_track import OutputTrack
from .workspaces.model import Prepared
from .sessions import session_name

log = logging.getLogger("orchestratia.agent")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)


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


class TaskRecord(BaseModel):
    """The daemon's record of a task it runs, ``pid_dir/task-<id>.json`` (0600): what a restarted
    daemon adopts. The same keys and values as every earlier daemon wrote, so a daemon upgraded
    while tasks run adopts them."""

    model_config = ConfigDict(extra="ignore")

    task: TaskPayload
    runner: str
    backend: str
    session: str
    started_at: float  # epoch seconds
    # int when the timeout is whole minutes (timeout_minutes is an int on the wire then): the
    # file keeps the number as earlier daemons wrote it
    timeout_s: int | float | None = None
    stop_kind: str | None = None  # "cancel" | "timeout": a stop under way, finished after a restart
    stop_reason: str = ""
    temp_dir: str | None = None  # the working dir made for a task with no repo; removed by workdir.retire
    #: the task's workspace in its repo (None: no repo, or a record of an older daemon)
    workspace: Prepared | None = None

    @field_validator("stop_reason", mode="before")
    @classmethod
    def _no_reason(cls, value: Any) -> Any:
        return value or ""

    @field_validator("temp_dir", mode="before")
    @classmethod
    def _no_temp_dir(cls, value: Any) -> Any:
        return value or None

    def save(self, path: Path) -> None:
        # no "workspace" key when there is none: the file stays what earlier daemons wrote
        data = self.model_dump(mode="json", exclude={"workspace"} if self.workspace is None else None)
        write_atomic(path, json.dumps(data).encode(), 0o600)

    @classmethod
    def load(cls, path: Path) -> TaskRecord:
        """Raises OSError, or ValueError for a file that is not such a record."""
        return cls.model_validate(json.loads(path.read_text()))


@dataclass
class RunTimes:
    """What the daemon knows of a run in memory only (monotonic seconds); a restarted daemon
    starts these afresh from the task's files."""

    ended: float | None = None  # when the daemon saw the runner's end
    seen: float = field(default_factory=time.monotonic)  # when the runner or its session was last alive
    next_alive_check: float = 0.0
    ack_wait_from: float | None = None  # when the daemon began waiting, on a live WebSocket, for acks
    ack_wait_acked: int = -1  # the acknowledged offset then: a later ack starts the wait afresh
    report_after: float = 0.0  # a failed report is not retried before this
    reporting: bool = False
    stopping: asyncio.Task[None] | None = None  # the stop escalation under way
    workspace_sent: bool = False  # the hub has the workspace report (a retried report skips it)


@dataclass
class TaskRun:
    """A task this daemon runs: its persisted record, its files, the offsets of its output, the
    runner's exit record once seen, and its runtime state."""

    record: TaskRecord
    files: TaskFiles
    track: OutputTrack
    exit: dict[str, Any] | None = None  # the launcher's exit record (or the daemon's note that there is none)
    times: RunTimes = field(default_factory=RunTimes)

    @property
    def id(self) -> str:
        return self.record.task.id

    @property
    def runner(self) -> str:
        return self.record.runner

    @property
    def session(self) -> str:
        return self.record.session

    @property
    def started_at(self) -> float:
        return self.record.started_at

    @property
    def stop_kind(self) -> str | None:
        return self.record.stop_kind

    @property
    def stop_reason(self) -> str:
        return self.record.stop_reason

    @property
    def temp_dir(self) -> str | None:
        return self.record.temp_dir

    def save(self) -> None:
        self.record.save(self.files.state)

    def mark_stopping(self, kind: str, reason: str) -> None:
        """Record a stop before it begins, so a daemon restarted meanwhile finishes it."""
        self.record.stop_kind, self.record.stop_reason = kind, reason
        self.save()

    @classmethod
    def load(cls, path: Path, log_dir: Path, pid_dir: Path) -> TaskRun:
        record = TaskRecord.load(path)
        return cls(record=record, files=TaskFiles.for_task(record.task.id, log_dir, pid_dir),
                   track=OutputTrack(record.task.id))

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


def new_run(task: TaskPayload, runner: str, backend: str, log_dir: Path, pid_dir: Path,
            timeout_minutes: float | None, temp_dir: str | None = None,
            workspace: Prepared | None = None) -> TaskRun:
    record = TaskRecord(task=task, runner=runner, backend=backend, session=session_name(task.id),
                        started_at=time.time(), timeout_s=timeout_minutes * 60 if timeout_minutes else None,
                        temp_dir=temp_dir, workspace=workspace)
    files = TaskFiles.for_task(task.id, log_dir, pid_dir)
    size = continued_log_size(task, files)
    return TaskRun(record=record, files=files, track=OutputTrack(task.id, sent=size, acked=size, size=size))


def continued_log_size(task: TaskPayload, files: TaskFiles) -> int:
    """A parked task resuming itself (``resume.parent_id`` is its own id) goes on in its log:
    the size its earlier run left (sent and stored then), so its offsets continue; else 0."""
    if task.resume is None or task.resume.parent_id != task.id:
        return 0
    try:
        return files.log.stat().st_size
    except OSError:
        return 0


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
