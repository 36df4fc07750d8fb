"""Nothing lost, nothing doubled, nothing run twice — under faults.

The real hub, the real daemon, screen, and the fake claude printing a long numbered stream.
Mid-stream we kill -9 the hub (SQLite and PostgreSQL) and start it again, kill -9 the daemon and
start it again, or cut the daemon's WebSocket every few hundred ms for the whole task. Then the
hub's stored output equals the agent's log file byte for byte, every numbered line is there once,
the task ends ``completed`` exactly once, and the claude binary ran exactly once."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml

from fault_harness import FaultAgent, FaultHub
from integration_harness import Hub, wait_for

LINES = 2500
DELAY = 0.002
SPEC = f"fault stream FAKE_LINES={LINES} FAKE_LINE_DELAY={DELAY} FAKE_UNICODE"


def create_task(hub: Hub, agent: FaultAgent) -> str:
    r = hub.api("POST", "/tasks", json={"title": "fault stream", "spec": SPEC, "agent": agent.name,
                                        "target_repo": "work", "runner": "claude"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def stored(hub: Hub, task_id: str) -> int:
    return hub.task(task_id).get("output_size") or 0


def task_records(agent: FaultAgent, task_id: str) -> list[Path]:
    """The daemon's files for the task in its pid_dir (record, launch spec, pid, exit, ...). The
    daemon removes them once the hub has the report and it has forgotten the task
    (``Daemon.finish`` / ``tasks.retire``); until then a daemon may still (re)report it."""
    pid_dir = Path(yaml.safe_load(agent.config.read_text())["session"]["pid_dir"])
    return sorted(pid_dir.glob(f"task-{task_id}.*"))


def assert_intact(hub: Hub, agent: FaultAgent, task_id: str) -> None:
    task = hub.wait_final(task_id, timeout=45)
    assert task["status"] == "completed", task
    log = agent.task_log(task_id)
    wait_for(lambda: hub.output(task_id) == log.read_bytes(), 15,
             "the hub's stored output to equal the agent's log byte for byte")
    data = log.read_bytes()
    data.decode("utf-8")  # the log is valid UTF-8 as the program wrote it
    for i in (1, 2, LINES // 3, LINES // 2, LINES - 1, LINES):
        assert data.count(f'"line {i} of {LINES}"'.encode()) == 1, f"line {i} lost or doubled"
    numbered = [n for n in range(1, LINES + 1) if f'"line {n} of {LINES}"'.encode() in data]
    assert len(numbered) == LINES, f"{LINES - len(numbered)} numbered lines missing"
    assert agent.runs() and len(agent.runs()) == 1, f"the claude binary ran {len(agent.runs())} times"
    # the end state is final and stays put: reported exactly once. Once the daemon is done with
    # the task (its records are gone) nothing can report it again; it must not have changed.
    wait_for(lambda: not task_records(agent, task_id), 15,
             "the daemon to finish with the task (its pid_dir records removed)")
    again = hub.task(task_id)
    assert (again["status"], again["finished_at"], again["exit_code"]) == (
        task["status"], task["finished_at"], task["exit_code"])
    tasks = hub.api("GET", "/tasks", params={"agent": agent.name, "limit": 50}).json()
    assert [t["id"] for t in tasks] == [task_id], "a task was duplicated"


def test_hub_killed_mid_stream_and_restarted(fault_hub: FaultHub, make_fault_agent) -> None:
    agent = make_fault_agent(fault_hub)
    task_id = create_task(fault_hub, agent)
    wait_for(lambda: stored(fault_hub, task_id) > 60_000, 30, "some output stored before the kill")

    fault_hub.kill9()
    log = agent.task_log(task_id)
    size_at_kill = log.stat().st_size
    wait_for(lambda: log.stat().st_size > size_at_kill + 20_000, 15, "the task to keep writing while the hub is down")
    fault_hub.restart()
    assert fault_hub.task(task_id)["status"] == "running"
    assert_intact(fault_hub, agent, task_id)


def test_daemon_killed_mid_stream_and_restarted(fault_hub: FaultHub, make_fault_agent) -> None:
    agent = make_fault_agent(fault_hub)
    task_id = create_task(fault_hub, agent)
    wait_for(lambda: stored(fault_hub, task_id) > 60_000, 30, "some output stored before the kill")

    agent.kill(signal.SIGKILL)
    log = agent.task_log(task_id)
    size_at_kill = log.stat().st_size
    wait_for(lambda: log.stat().st_size > size_at_kill + 20_000, 15, "the orphaned task to keep writing")
    agent.start()
    assert_intact(fault_hub, agent, task_id)


def test_websocket_cut_every_few_hundred_ms(fault_hub: FaultHub, make_fault_agent, proxy_factory) -> None:
    proxy = proxy_factory(fault_hub, websocket_only=True)
    agent = make_fault_agent(fault_hub, via=proxy.url)
    task_id = create_task(fault_hub, agent)
    proxy.set_cutting((0.2, 0.5))
    try:
        fault_hub.wait_final(task_id, timeout=45)
    finally:
        proxy.set_cutting(None)
    assert proxy.cuts >= 5, f"only {proxy.cuts} cuts: the fault did not happen"
    assert_intact(fault_hub, agent, task_id)


def test_every_connection_cut_every_second(fault_hub: FaultHub, make_fault_agent, proxy_factory) -> None:
    """HTTP calls (start, complete, heartbeat) are cut too: retries must not run or report twice."""
    proxy = proxy_factory(fault_hub, websocket_only=False)
    agent = make_fault_agent(fault_hub, via=proxy.url)
    task_id = create_task(fault_hub, agent)
    proxy.set_cutting((0.5, 1.2))
    try:
        fault_hub.wait_final(task_id, timeout=45)
    finally:
        proxy.set_cutting(None)
    assert proxy.cuts >= 3, f"only {proxy.cuts} cuts: the fault did not happen"
    assert_intact(fault_hub, agent, task_id)
