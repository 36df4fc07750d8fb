"""Session backends (screen, tmux, direct) running the launcher and the fake claude for real,
and the daemon's stop escalation (SIGINT -> SIGTERM -> SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path

import pytest
from agent_helpers import FAKE_CLAUDE, claude_argv, read_exit, wait_for

from orchestratia.agent import tasks as T
from orchestratia.agent.config import config_from_dict
from orchestratia.agent.daemon import Daemon
from orchestratia.agent.runners import LaunchPlan
from orchestratia.agent.sessions import get_backend
from orchestratia.protocol import TaskPayload, TaskStatus

BACKENDS = ["screen", "tmux", "direct"]


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


def launch(kind: str, dirs, task_id: str, prompt: str, cleanup: list, backend=None):
    backend = backend or make_backend(kind, dirs, cleanup)
    run = T.new_run(new_task(task_id, prompt), "claude", kind, dirs["log"], dirs["run"], None)
    if kind == "screen":
        cleanup.append(("screen", run.session))
    plan = LaunchPlan(argv=claude_argv(prompt))
    T.launch(run, plan, str(dirs["repo"]), backend)
    return run, backend


@pytest.mark.parametrize("kind", BACKENDS)
def test_backend_runs_task_and_captures_exit(kind, dirs, task_id, cleanup_sessions) -> None:
    run, backend = launch(kind, dirs, task_id, "hi FAKE_LINES=2 FAKE_SLEEP=0.5", cleanup_sessions)
    assert run.session == f"orc-{task_id}"
    wait_for(lambda: backend.is_alive(run.session), 5, what="the session to be alive")
    ex = wait_for(lambda: read_exit(dirs, task_id), 20, what="the exit file")
    assert ex["exit_code"] == 0
    log = run.files.log.read_bytes()
    assert b'"line 2 of 2"' in log and b'"type": "result"' in log
    wait_for(lambda: not backend.is_alive(run.session), 10, what="the session to end")
    state = json.loads(run.files.state.read_text())
    assert state["session"] == run.session and state["task"]["id"] == task_id
    # the launcher spec is private, and the task ran in the repo dir
    assert oct(run.files.spec.stat().st_mode & 0o777) == "0o600"
    assert f'"cwd": "{dirs["repo"]}"'.encode() in log


@pytest.mark.parametrize("kind", BACKENDS)
def test_backend_failure_and_sigterm_statuses(kind, dirs, task_id, cleanup_sessions) -> None:
    run, backend = launch(kind, dirs, task_id, "FAKE_FAIL", cleanup_sessions)
    assert wait_for(lambda: read_exit(dirs, task_id), 20, what="exit")["exit_code"] == 1
    tid = task_id[:-4] + "beef"
    run2, _ = launch(kind, dirs, tid, "FAKE_LINES=1 FAKE_SLEEP=60", cleanup_sessions, backend)
    wait_for(lambda: run2.runner_alive() and b"line 1" in run2.files.log.read_bytes(), 10, what="the runner")
    assert run2.signal(signal.SIGTERM)
    assert wait_for(lambda: read_exit(dirs, tid), 10, what="exit")["exit_code"] == 143


def test_screen_session_is_named_for_the_operator(dirs, task_id, cleanup_sessions) -> None:
    run, backend = launch("screen", dirs, task_id, "FAKE_SLEEP=30", cleanup_sessions)
    wait_for(lambda: backend.is_alive(run.session), 5, what="screen session")
    assert backend.attach_hint(run.session) == f"screen -r orc-{task_id}"
    wait_for(run.runner_alive, 10, what="the runner")
    assert run.signal(signal.SIGTERM)
    wait_for(lambda: read_exit(dirs, task_id), 10, what="exit")


def daemon_for(dirs, backend: str = "screen", grace: float = 0.3) -> Daemon:
    cfg = config_from_dict({"hub_url": "http://127.0.0.1:9", "api_key": "orc_test",
                            "claude": {"binary": str(FAKE_CLAUDE)},
                            "session": {"backend": backend, "log_dir": str(dirs["log"]), "pid_dir": str(dirs["run"]),
                                        "kill_grace_seconds": grace}})
    return Daemon(cfg)


@pytest.mark.parametrize("prompt, code", [
    ("FAKE_LINES=1 FAKE_SLEEP=60", 130),  # SIGINT is enough
    ("FAKE_LINES=1 FAKE_SLEEP=60 FAKE_IGNORE_SIGINT", 143),  # then SIGTERM
    ("FAKE_LINES=1 FAKE_SLEEP=60 FAKE_IGNORE_SIGINT FAKE_IGNORE_SIGTERM", 137),  # then SIGKILL
])
async def test_stop_escalation(prompt, code, dirs, task_id, cleanup_sessions) -> None:
    d = daemon_for(dirs)
    try:
        run, _ = launch("screen", dirs, task_id, prompt, cleanup_sessions, d.backend)
        wait_for(lambda: run.runner_alive() and b"line 1" in run.files.log.read_bytes(), 10, what="the runner")
        await d.escalate(run)
        # the exit status says which signal ended it: SIGINT 130, SIGTERM 143, SIGKILL 137
        assert wait_for(lambda: read_exit(dirs, task_id), 10, what="exit")["exit_code"] == code
    finally:
        await d.client.aclose()


def test_adopted_run_from_state_file(dirs, task_id, cleanup_sessions) -> None:
    run, backend = launch("screen", dirs, task_id, "FAKE_SLEEP=30", cleanup_sessions)
    wait_for(lambda: run.runner_alive(), 10, what="the runner")
    again = T.TaskRun.load(run.files.state, dirs["log"], dirs["run"])
    assert again.id == task_id and again.session == run.session and again.runner_pid() == run.runner_pid()
    assert again.runner_alive() and again.read_exit() is None
    again.signal(signal.SIGKILL)
    assert wait_for(lambda: read_exit(dirs, task_id), 10, what="exit")["exit_code"] == 137
    run.files.cleanup()
    assert not run.files.state.exists() and run.files.log.exists()


def test_a_tmux_socket_path_too_long_for_unix_sockets_is_explained(tmp_path) -> None:
    from orchestratia.agent.sessions import SessionError

    sock = tmp_path / ("d" * 120) / "tmux.sock"
    with pytest.raises(SessionError, match="session.tmux_socket: .* too long for a Unix socket path"):
        get_backend("tmux", str(sock)).start("orc-x", ["true"], dict(os.environ), "/")


def test_missing_multiplexer_is_explained(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    from orchestratia.agent.sessions import SessionError

    with pytest.raises(SessionError, match="screen is not installed"):
        get_backend("screen").start("orc-x", ["true"], dict(os.environ), "/")


def test_a_pid_from_before_a_reboot_is_not_alive(dirs, task_id) -> None:
    import subprocess

    import psutil

    sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        run = T.new_run(new_task(task_id), "claude", "direct", dirs["log"], dirs["run"], None)
        run.files.pid.write_text(f"{sleeper.pid}\n")
        assert run.runner_alive()
        run.started_at = psutil.boot_time() - 3600  # the task started before the machine booted
        assert not run.runner_alive()
    finally:
        sleeper.kill()
        sleeper.wait()


async def test_a_stop_under_way_is_finished_after_a_restart(dirs, task_id, cleanup_sessions) -> None:
    import asyncio

    d = daemon_for(dirs, backend="direct", grace=0.3)
    await d.client.aclose()
    run, _ = launch("direct", dirs, task_id, "FAKE_LINES=1 FAKE_SLEEP=60 FAKE_IGNORE_SIGINT", cleanup_sessions,
                    d.backend)
    wait_for(lambda: run.runner_alive() and b"line 1" in run.files.log.read_bytes(), 10, what="the runner")
    run.stop_kind, run.stop_reason = "cancel", "cancelled from the hub"
    run.save()  # the daemon died right after recording the cancel
    d2 = daemon_for(dirs, backend="direct", grace=0.3)
    stop = asyncio.Event()
    task = asyncio.create_task(d2.run(stop))
    try:
        deadline = time.monotonic() + 10
        while read_exit(dirs, task_id) is None:
            assert time.monotonic() < deadline, "the adopted cancel was not finished"
            await asyncio.sleep(0.02)
        assert read_exit(dirs, task_id)["exit_code"] == 143
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
