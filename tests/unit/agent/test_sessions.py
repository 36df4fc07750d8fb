"""Session backends (screen, tmux, direct) running the launcher and the fake claude for real."""

from __future__ import annotations

import json
import os
import signal

import pytest

from orchestratia.agent.sessions import get_backend

from .agent_helpers import launch_task, read_exit, wait_for

BACKENDS = ["screen", "tmux", "direct"]


@pytest.mark.parametrize("kind", BACKENDS)
def test_backend_runs_task_and_captures_exit(kind, dirs, task_id, cleanup_sessions) -> None:
    run, backend = launch_task(kind, dirs, task_id, "hi FAKE_LINES=2 FAKE_SLEEP=0.5", cleanup_sessions)
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
    run, backend = launch_task(kind, dirs, task_id, "FAKE_FAIL", cleanup_sessions)
    assert wait_for(lambda: read_exit(dirs, task_id), 20, what="exit")["exit_code"] == 1
    tid = task_id[:-4] + "beef"
    run2, _ = launch_task(kind, dirs, tid, "FAKE_LINES=1 FAKE_SLEEP=60", cleanup_sessions, backend)
    wait_for(lambda: run2.runner_alive() and b"line 1" in run2.files.log.read_bytes(), 10, what="the runner")
    assert run2.signal(signal.SIGTERM)
    assert wait_for(lambda: read_exit(dirs, tid), 10, what="exit")["exit_code"] == 143


def test_screen_session_is_named_for_the_operator(dirs, task_id, cleanup_sessions) -> None:
    run, backend = launch_task("screen", dirs, task_id, "FAKE_SLEEP=30", cleanup_sessions)
    wait_for(lambda: backend.is_alive(run.session), 5, what="screen session")
    assert backend.attach_hint(run.session) == f"screen -r orc-{task_id}"
    wait_for(run.runner_alive, 10, what="the runner")
    assert run.signal(signal.SIGTERM)
    wait_for(lambda: read_exit(dirs, task_id), 10, what="exit")


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
