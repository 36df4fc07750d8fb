"""A task's session killed with SIGKILL as a whole (screen, launcher and runner: the OOM killer,
``systemctl kill -s KILL``): the backend no longer counts it alive, screen's dead socket is wiped,
and the task's error says what happened."""

from __future__ import annotations

import signal
import subprocess

import psutil
import pytest
from .agent_helpers import wait_for

from orchestratia.agent.sessions import ScreenBackend
from .agent_helpers import launch_task as launch  # the same launch as the backend tests

pytestmark = pytest.mark.timeout(60)


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and every process under it as at once (as the OOM killer or ``systemctl
    kill -s KILL`` do): all are stopped first, so that none sees another die (the launcher would
    get SIGHUP from screen's death and record an exit)."""
    top = psutil.Process(pid)
    procs = [top, *top.children(recursive=True)]
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for p in procs:
            try:
                p.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
    psutil.wait_procs(procs, timeout=10)
    return [p.pid for p in procs]


def screen_pid(name: str) -> int | None:
    out = subprocess.run(["screen", "-ls", name], capture_output=True, text=True).stdout
    for line in out.splitlines():
        head = line.strip().split("\t")[0]
        if head.endswith(f".{name}"):
            return int(head.split(".", 1)[0])
    return None


def screen_listing(name: str) -> str:
    return subprocess.run(["screen", "-ls", name], capture_output=True, text=True).stdout


def test_a_sigkilled_screen_session_is_dead_wiped_and_explained(dirs, task_id, cleanup_sessions) -> None:
    run, backend = launch("screen", dirs, task_id, "hi FAKE_LINES=1 FAKE_SLEEP=120", cleanup_sessions)
    wait_for(lambda: run.runner_alive() and b"line 1" in run.files.log.read_bytes(), 20, what="the runner to run")
    pid = screen_pid(run.session)
    assert pid is not None and backend.is_alive(run.session)
    runner = run.runner_pid()
    assert runner in kill_tree(pid), "the runner is in the session's process tree"
    assert "Dead" in screen_listing(run.session)  # what screen shows for it: "(Dead ???)"
    assert not backend.is_alive(run.session)
    assert run.session not in screen_listing(run.session)  # wiped
    assert not run.runner_alive() and run.read_exit() is None
    assert backend.ended_error(run.session) == ("the task's screen session was killed (SIGKILL?) before the runner "
                                                "reported an exit")


def test_a_session_that_ended_unseen_gets_the_general_error() -> None:
    assert "ended without recording an exit status" in ScreenBackend().ended_error("orc-x")


def test_a_sigkilled_tmux_server_is_not_alive(dirs, task_id, cleanup_sessions) -> None:
    run, backend = launch("tmux", dirs, task_id, "hi FAKE_LINES=1 FAKE_SLEEP=120", cleanup_sessions)
    wait_for(lambda: run.runner_alive() and b"line 1" in run.files.log.read_bytes(), 20, what="the runner to run")
    server = psutil.Process(run.runner_pid()).parents()
    tmux = next(p for p in server if p.name().startswith("tmux"))
    kill_tree(tmux.pid)  # the server holds every session on its socket: a private one here
    assert not backend.is_alive(run.session)  # its socket file stays; has-session cannot connect
    assert "tmux session ended without recording an exit status" in backend.ended_error(run.session)


def test_only_the_launcher_and_runner_killed_in_tmux_ends_the_session(dirs, task_id, cleanup_sessions) -> None:
    run, backend = launch("tmux", dirs, task_id, "hi FAKE_LINES=1 FAKE_SLEEP=120", cleanup_sessions)
    wait_for(lambda: run.runner_alive() and b"line 1" in run.files.log.read_bytes(), 20, what="the runner to run")
    launcher = psutil.Process(run.runner_pid()).parent()
    kill_tree(launcher.pid)
    wait_for(lambda: not backend.is_alive(run.session), 10, what="tmux to close the session of a dead pane")
    assert not run.runner_alive()
