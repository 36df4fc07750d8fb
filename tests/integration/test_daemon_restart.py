"""A daemon killed with SIGKILL mid-task and started again adopts the session; the hub's
stored output equals the task's log file byte for byte (nothing lost, nothing doubled)."""

from __future__ import annotations

import signal

import pytest

from integration_harness import Agent, Cli, Hub, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_sigkill_daemon_then_restart_adopts_without_loss(hub: Hub, cli: Cli, agent: Agent) -> None:
    created = cli.create_task("long one FAKE_LINES=40 FAKE_LINE_DELAY=0.1 FAKE_UNICODE", agent.name)
    task_id = created["id"]
    log = agent.task_log(task_id)
    wait_for(lambda: b"line 5 of 40" in hub.output(task_id), 30, "some output at the hub")

    agent.kill(signal.SIGKILL)
    stored_at_kill = len(hub.output(task_id))
    # The task keeps running in its screen session while no daemon watches it.
    wait_for(lambda: log.stat().st_size > stored_at_kill + 200, 15, "the orphaned task to keep writing its log")
    assert hub.task(task_id)["status"] == "running"

    agent.start()
    task = hub.wait_final(task_id, timeout=60)
    assert task["status"] == "completed", task
    assert task["result"]["session_id"]
    wait_for(lambda: hub.output(task_id) == log.read_bytes(), 10, "the hub's output to equal the log byte for byte")
    data = hub.output(task_id)
    for i in range(1, 41):
        assert data.count(f'"line {i} of 40"'.encode()) == 1, f"line {i} lost or doubled"
    assert "日本".encode() in data


def test_task_that_ends_while_daemon_is_down_is_reported(hub: Hub, cli: Cli, agent: Agent) -> None:
    created = cli.create_task("short FAKE_LINES=3 FAKE_LINE_DELAY=0.3 FAKE_EXIT=4", agent.name)
    task_id = created["id"]
    wait_for(lambda: b"line 1 of 3" in hub.output(task_id), 30, "first line at the hub")
    agent.kill(signal.SIGKILL)
    pid_dir = agent.workdir / "run"
    wait_for(lambda: (pid_dir / f"task-{task_id}.exit").exists(), 20, "the launcher to record the exit status")
    agent.start()
    task = hub.wait_final(task_id, timeout=30)
    assert task["status"] == "failed" and task["exit_code"] == 4, task
    assert hub.output(task_id) == agent.task_log(task_id).read_bytes()
