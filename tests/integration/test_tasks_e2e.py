"""A task's life through the real hub, the real daemon, real screen and the fake claude,
driven by the CLI as a user would."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from integration_harness import FAKE_CLAUDE, Agent, Cli, Hub, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_task_completes_with_output_and_result(hub: Hub, cli: Cli, agent: Agent) -> None:
    created = cli.create_task("Say hello FAKE_LINES=3 FAKE_TURNS=2", agent.name)
    assert created["status"] in {"assigned", "running", "queued"}
    task = hub.wait_final(created["id"])
    assert task["status"] == "completed", task
    result = task["result"]
    assert result["num_turns"] == 2
    assert result["cost_usd"] == pytest.approx(0.0246)
    assert result["session_id"]
    assert result.get("exit_code") == 0
    shown = cli.json("tasks", "show", created["id"])
    for key in ("id", "status", "agent", "result", "error", "created_at", "started_at", "finished_at"):
        assert key in shown
    assert shown["agent"] == agent.name and shown["started_at"] and shown["finished_at"]
    stored = cli.run("tasks", "output", created["id"]).stdout
    assert "line 3 of 3" in stored and '"type": "result"' in stored
    assert stored.encode() == agent.task_log(created["id"]).read_bytes()
    listed = cli.json("tasks", "list", "--agent", agent.name)
    assert [t["id"] for t in listed] == [created["id"]]
    human = cli.run("tasks", "list").stdout
    assert created["id"][:8] in human


def test_failing_run_ends_failed_with_real_exit_status(hub: Hub, cli: Cli, agent: Agent) -> None:
    created = cli.create_task("break please FAKE_FAIL FAKE_EXIT=7", agent.name)
    task = hub.wait_final(created["id"])
    assert task["status"] == "failed", task
    assert task["exit_code"] == 7 or (task["result"] or {}).get("exit_code") == 7, task
    assert task["error"]


def test_shell_runner_exit_status(hub: Hub, cli: Cli, agent: Agent) -> None:
    created = cli.create_task("echo from-shell; exit 3", agent.name, "work", "shell", "--runner", "shell")
    task = hub.wait_final(created["id"])
    assert task["status"] == "failed" and task["exit_code"] == 3, task
    assert b"from-shell" in hub.output(created["id"])


def test_cancel_stops_the_running_fake(hub: Hub, cli: Cli, agent: Agent) -> None:
    created = cli.create_task("wait for it FAKE_LINES=1 FAKE_SLEEP=60", agent.name)
    wait_for(lambda: b"line 1 of 1" in hub.output(created["id"]), 30, "the fake's first line at the hub")
    out = cli.run("tasks", "cancel", created["id"])
    assert "cancel" in out.stdout
    task = hub.wait_final(created["id"], timeout=30)
    assert task["status"] == "cancelled", task
    # The fake answers SIGINT with an "Interrupted" result and exit 130, SIGTERM with 143.
    log = agent.task_log(created["id"])
    wait_for(lambda: b"Interrupted" in log.read_bytes() or task.get("exit_code") in (130, 143), 15,
             "evidence in the task log that the fake got SIGINT/SIGTERM")
    wait_for(lambda: f"orc-{created['id']}" not in _sessions(), 20, "the task's screen session to end")


def _sessions() -> list[str]:
    from integration_harness import screen_sessions

    return screen_sessions()


def test_runner_timeout_from_agent_config_accepts_fractional_minutes(hub: Hub, cli: Cli, make_agent) -> None:
    # The daemon's own limit (claude.timeout_minutes in config.yaml, a float) stops the run; it
    # reports fail with "reason": "timeout" (an extension), which this hub ends timed_out.
    agent = make_agent(overrides={"claude": {"binary": str(FAKE_CLAUDE), "timeout_minutes": 0.05}})
    created = cli.create_task("too slow FAKE_LINES=1 FAKE_SLEEP=120", agent.name)
    task = hub.wait_final(created["id"], timeout=40)
    assert task["status"] == "timed_out", task
    assert "timed out" in (task["error"] or ""), task
    wait_for(lambda: f"orc-{created['id']}" not in _sessions(), 20, "the task's screen session to end")


def test_unknown_repo_fails_at_once(hub: Hub, cli: Cli, agent: Agent) -> None:
    created = cli.create_task("anything", agent.name, "no-such-repo")
    task = hub.wait_final(created["id"], timeout=15)
    assert task["status"] == "failed", task
    assert "no-such-repo" in (task["error"] or ""), task
    assert task["started_at"] is None, task  # refused before anything ran


def test_watch_streams_and_exits_with_the_status(hub: Hub, cli: Cli, agent: Agent) -> None:
    created = cli.create_task("stream FAKE_LINES=5 FAKE_LINE_DELAY=0.2", agent.name)
    watched = cli.run("tasks", "watch", created["id"], check=False, timeout=60)
    assert watched.returncode == 0, watched.stderr
    assert "line 5 of 5" in watched.stdout
    assert watched.stdout.encode() == hub.output(created["id"])
    assert "completed" in watched.stderr
    failed = cli.create_task("nope FAKE_FAIL", agent.name)
    assert cli.run("tasks", "watch", failed["id"], check=False, timeout=60).returncode == 1
    again = cli.run("tasks", "watch", created["id"], "--quiet", check=False)  # a finished task: replay + end
    assert again.returncode == 0 and again.stdout.encode() == hub.output(created["id"]) and again.stderr == ""


def test_cli_login_logout_and_errors(hub: Hub, cli: Cli, agent: Agent) -> None:
    env = cli.env()
    env.pop("ORCHESTRATIA_HUB_URL")
    env.pop("ORCHESTRATIA_TOKEN")
    import subprocess

    from integration_harness import ADMIN_PASSWORD, ORCHESTRATIA

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([ORCHESTRATIA, *args], input=stdin or "", capture_output=True, text=True, env=env, timeout=60)

    out = run("tasks", "list")
    assert out.returncode == 1 and out.stderr.startswith("error: not logged in") and "orchestratia login" in out.stderr
    wrong = run("login", "--hub", hub.url, "--username", "admin", "--password-stdin", stdin="wrong\n")
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr and wrong.stderr.count("\n") == 1
    ok = run("login", "--hub", hub.url, "--username", "admin", "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
    assert ok.returncode == 0, ok.stderr
    saved = cli.home / "config" / "orchestratia" / "cli.json"
    assert oct(saved.stat().st_mode & 0o777) == "0o600"
    assert json.loads(saved.read_text())["hub_url"] == hub.url
    agents = json.loads(run("agents", "list", "--json").stdout)
    mine = [a for a in agents if a["name"] == agent.name]
    assert mine and {"id", "name", "status", "last_seen_at"} <= set(mine[0]) and mine[0]["status"] == "ONLINE"
    missing = run("tasks", "show", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 1 and missing.stderr.startswith("error: ") and "Traceback" not in missing.stderr
    no_spec = run("tasks", "create", "--title", "x")
    assert no_spec.returncode == 1 and "--spec" in no_spec.stderr
    assert run("logout").returncode == 0 and not saved.exists()
    env["ORCHESTRATIA_HUB_URL"] = f"http://127.0.0.1:{_closed_port()}"
    env["ORCHESTRATIA_TOKEN"] = "x"
    down = run("tasks", "list")
    assert down.returncode == 1 and down.stderr.startswith("error: cannot reach the hub at http://127.0.0.1:")


def _closed_port() -> int:
    from integration_harness import free_port

    return free_port()


def test_a_started_agent_is_ready_for_its_first_task(hub: Hub, make_agent) -> None:
    """``Agent.start()`` returns once the daemon runs its loops, not merely once the hub shows
    the agent ONLINE (which a restarted daemon's previous contact already does): otherwise the
    first task of a test or a measurement waits for the daemon's start-up (~0.5-1 s)."""
    agent = make_agent()
    log = agent.daemon_log.read_bytes()
    assert b" running: hub " in log[log.rfind(f"==== start {agent.starts} ====".encode()):], log[-2000:]
