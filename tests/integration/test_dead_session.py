"""A task's screen session killed with SIGKILL as a whole (screen, launcher and runner at once:
the OOM killer, ``systemctl kill -s KILL``) through the real hub and daemon: the task ends
``failed`` saying so within the daemon's grace for a vanished session (10 s, checked every 2 s),
screen's dead socket is wiped, and the freed slot runs the next task."""

from __future__ import annotations

import signal
import subprocess
from typing import Callable

import psutil
import pytest

from integration_harness import Agent, Cli, Hub, screen_sessions, tail, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def screen_pid(name: str) -> int:
    out = subprocess.run(["screen", "-ls", name], capture_output=True, text=True).stdout
    for line in out.splitlines():
        head = line.strip().split("\t")[0]
        if head.endswith(f".{name}"):
            return int(head.split(".", 1)[0])
    raise AssertionError(f"no screen session {name}: {out}")


def kill_tree_at_once(pid: int) -> list[psutil.Process]:
    """Stop every process of the tree first, then SIGKILL them: none sees another die first
    (as with the OOM killer or a cgroup kill)."""
    top = psutil.Process(pid)
    procs = [top, *top.children(recursive=True)]
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for p in procs:
            try:
                p.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
    psutil.wait_procs(procs, timeout=10)
    return procs


def test_a_sigkilled_session_fails_its_task_and_frees_the_slot(hub: Hub, cli: Cli,
                                                                make_agent: Callable[..., Agent]) -> None:
    agent = make_agent(overrides={"max_concurrent_tasks": 1})
    created = cli.create_task("run long FAKE_LINES=1 FAKE_SLEEP=300", agent.name)
    session = f"orc-{created['id']}"
    wait_for(lambda: b"line 1 of 1" in hub.output(created["id"]), 30, "the fake's first line at the hub")
    procs = kill_tree_at_once(screen_pid(session))
    assert len(procs) >= 3, [p.pid for p in procs]  # screen, the launcher, the runner
    waiting = cli.create_task("next one FAKE_LINES=1", agent.name)  # the only slot is still taken
    try:
        task = hub.wait_final(created["id"], timeout=40)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ndaemon log: {tail(agent.daemon_log, 20)}") from None
    assert task["status"] == "failed", task
    assert task["error"].startswith("the task's screen session was killed (SIGKILL?) before the runner reported an "
                                    "exit"), task
    assert session not in screen_sessions()  # the dead socket was wiped
    nxt = hub.wait_final(waiting["id"], timeout=40)
    assert nxt["status"] == "completed", nxt
