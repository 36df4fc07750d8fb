"""Helpers and fixtures for the agent's unit tests: the fake CLIs, private dirs, waiting with deadlines."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

from orchestratia.agent import starter
from orchestratia.agent import tasks as T
from orchestratia.agent.runners import LaunchPlan
from orchestratia.agent.sessions import get_backend
from orchestratia.protocol import TaskPayload, TaskStatus

ROOT = Path(__file__).resolve().parents[3]
FAKES = ROOT / "tests" / "fakes"
FAKE_CLAUDE = FAKES / "claude"
LAUNCHER = ROOT / "src" / "orchestratia" / "agent" / "launcher.py"


def wait_for(cond: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01, what: str = "condition") -> Any:
    """Poll ``cond`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    d = {"log": tmp_path / "log", "run": tmp_path / "run", "repo": tmp_path / "repo"}
    for p in d.values():
        p.mkdir()
    return d


@pytest.fixture
def task_id() -> str:
    return str(uuid.uuid4())


def write_spec(dirs: dict[str, Path], task_id: str, argv: list[str], stdin_data: bytes | None = None,
               env: dict[str, str] | None = None) -> Path:
    stdin_path = None
    if stdin_data is not None:
        stdin_path = dirs["run"] / f"task-{task_id}.stdin"
        stdin_path.write_bytes(stdin_data)
    spec = {"task_id": task_id, "argv": argv, "cwd": str(dirs["repo"]),
            "log_path": str(dirs["log"] / f"task-{task_id}.log"), "pid_path": str(dirs["run"] / f"task-{task_id}.pid"),
            "exit_path": str(dirs["run"] / f"task-{task_id}.exit"),
            "stdin_path": str(stdin_path) if stdin_path else None, "env": env}
    path = dirs["run"] / f"task-{task_id}.launch.json"
    path.write_text(json.dumps(spec))
    return path


def read_exit(dirs: dict[str, Path], task_id: str) -> dict | None:
    p = dirs["run"] / f"task-{task_id}.exit"
    return json.loads(p.read_text()) if p.exists() else None


def claude_argv(prompt: str, *extra: str) -> list[str]:
    return [str(FAKE_CLAUDE), "-p", prompt, "--output-format", "stream-json", "--verbose", *extra]


@pytest.fixture
def cleanup_sessions():
    """Names of screen/tmux sessions a test starts; killed at teardown."""
    names: list[tuple[str, str]] = []
    yield names
    for kind, name in names:
        if kind == "screen":
            subprocess.run(["screen", "-S", name, "-X", "quit"], capture_output=True)
        else:
            subprocess.run(["tmux", "-S", kind, "kill-server"], capture_output=True)
            if Path(kind).parent.name.startswith("orc-tmux-"):  # a private socket dir of the test
                shutil.rmtree(Path(kind).parent, ignore_errors=True)


PY = sys.executable


def make_backend(kind: str, dirs: dict[str, Path], cleanup: list):
    if kind == "tmux":
        # not under tmp_path: with a longer TMPDIR that path passes the 107-byte limit of a
        # Unix socket path and tmux fails with "File name too long"
        sock = tempfile.mkdtemp(prefix="orc-tmux-", dir="/tmp") + "/s"
        cleanup.append((sock, ""))
        return get_backend("tmux", sock)
    return get_backend(kind)


def new_task(task_id: str, spec: str = "x") -> TaskPayload:
    return TaskPayload(id=task_id, title="t", spec=spec, status=TaskStatus.ASSIGNED)


def launch_task(kind: str, dirs, task_id: str, prompt: str, cleanup: list, backend=None):
    """The fake claude run with ``prompt`` in a ``kind`` session, as the daemon starts a task."""
    backend = backend or make_backend(kind, dirs, cleanup)
    run = T.new_run(new_task(task_id, prompt), "claude", kind, dirs["log"], dirs["run"], None)
    if kind == "screen":
        cleanup.append(("screen", run.session))
    plan = LaunchPlan(argv=claude_argv(prompt))
    starter.launch(run, plan, str(dirs["repo"]), backend)
    return run, backend
