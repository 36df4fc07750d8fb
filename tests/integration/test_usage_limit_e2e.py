"""Usage limits park, then resume, end to end: the real hub, daemon, screen and git, and the
fake claude hitting its plan's limit (a ``rate_limit_event`` ``rejected`` with ``resetsAt``).
The task is ``parked`` until the reset, then resumes the same conversation (``--resume <the
session id>``) in the same worktree and completes; its output goes on in one log. While a
runner is parked on an agent, that agent's tasks of that runner wait (saying why) and its
other runners' tasks run; a parked task can be cancelled."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from integration_harness import Agent, Cli, Hub

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def runs(argv_log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in argv_log.read_text().splitlines() if line.strip()] if argv_log.exists() else []


def init_session(agent: Agent, task_id: str) -> str:
    for line in agent.task_log(task_id).read_text(errors="replace").splitlines():
        if line.startswith("{") and '"subtype": "init"' in line:
            return json.loads(line)["session_id"]
    raise AssertionError("no init event")


@pytest.fixture
def setup(make_agent: Callable[..., Agent], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Agent, Path]:
    argv_log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("FAKE_ARGV_LOG", str(argv_log))
    agent = make_agent(overrides={"workspace": {"root": str(tmp_path / "worktrees")}})
    return agent, argv_log


def test_a_usage_limit_parks_the_task_then_it_resumes_its_session(hub: Hub, cli: Cli,
                                                                  setup: tuple[Agent, Path]) -> None:
    agent, argv_log = setup
    task = cli.create_task("Big job FAKE_RATE_LIMIT=4", agent.name, "work", "Big job")
    parked = hub.wait_status(task["id"], "parked", timeout=60)
    session = init_session(agent, task["id"])
    assert parked["session_id"] == session and parked["failure_cause"] == "usage_limit"
    until = datetime.fromisoformat(parked["parked_until"])
    assert until > datetime.fromtimestamp(0, timezone.utc) and parked["finished_at"] is None
    assert parked["queue_reason"].startswith("parked until ") and parked["queue_reason"].endswith("(usage limit)")

    done = hub.wait_final(task["id"], timeout=90)  # the periodic pass resumes it after the reset
    assert done["status"] == "completed", done
    assert done["failure_cause"] is None and done["parked_until"] is None and done["error"] is None
    first, second = runs(argv_log)[-2:]
    assert "--resume" not in first["argv"]
    at = second["argv"].index("--resume")
    assert second["argv"][at + 1] == session and second["cwd"] == first["cwd"]
    assert second["argv"][:2] == ["-p", second["argv"][1]] and second["argv"][1].startswith("The usage limit has reset")
    output = hub.output(task["id"]).decode()
    assert "You've hit your limit" in output and "Fake claude done: The usage limit has reset" in output
    assert output.index("hit your limit") < output.index("Fake claude done")  # one log, in order


def test_while_parked_the_runner_waits_other_runners_run_and_cancel_works(hub: Hub, cli: Cli,
                                                                         setup: tuple[Agent, Path]) -> None:
    agent, _ = setup
    task = cli.create_task("Big job FAKE_RATE_LIMIT=3600", agent.name, "work", "Parked for an hour")
    hub.wait_status(task["id"], "parked", timeout=60)
    shown = cli.run("tasks", "show", task["id"]).stdout
    assert "parked" in shown and "parked until" in shown
    listed = cli.json("tasks", "list", "--status", "parked")
    assert [t["id"] for t in listed] == [task["id"]]

    waiting = cli.create_task("Another claude job", agent.name, "work", "Waits")
    shell = cli.create_task("echo other runners still run", agent.name, "work", "Shell", "--runner", "shell")
    assert hub.wait_final(shell["id"], timeout=60)["status"] == "completed"
    held = hub.task(waiting["id"])
    assert held["status"] == "assigned" and "runner claude parked until" in held["queue_reason"]

    out = cli.run("tasks", "cancel", task["id"])
    assert "cancelled" in out.stdout
    assert hub.task(task["id"])["status"] == "cancelled"
    # the runner is free again on that agent: the waiting task runs
    assert hub.wait_final(waiting["id"], timeout=60)["status"] == "completed"
