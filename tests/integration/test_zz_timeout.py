"""``timeout_minutes`` on a task: it ends ``timed_out`` and the fake is stopped.

The task is created with ``--timeout 0.05`` (3 s) by the session fixture ``early_timeout``
(conftest.py) when the test session begins. Both the hub (its periodic check) and the daemon
(the task's own ``timeout_minutes``; it reports ``fail`` with ``"reason": "timeout"``) enforce
it; either way the task must end ``timed_out``."""

from __future__ import annotations

import pytest

from integration_harness import Hub, screen_sessions, tail, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]


def test_timeout_ends_timed_out(hub: Hub, early_timeout) -> None:
    task_id = early_timeout.task_id
    task = hub.wait_final(task_id, timeout=100)
    assert task["status"] == "timed_out", f"{task}\ndaemon log tail: {tail(early_timeout.agent.daemon_log, 30)}"
    assert "timed out" in (task["error"] or ""), task
    assert task["started_at"] and task["finished_at"]
    log = early_timeout.agent.task_log(task_id)
    try:
        wait_for(lambda: b"Interrupted" in log.read_bytes(), 20, "the fake to get SIGINT (its 'Interrupted' result)")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ntask: {task}\ntask log tail: {tail(log, 5)}\n"
                             f"daemon log tail: {tail(early_timeout.agent.daemon_log, 30)}") from None
    wait_for(lambda: f"orc-{task_id}" not in screen_sessions(), 20, "the task's screen session to end")
