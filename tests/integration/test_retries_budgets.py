"""Retries by cause and budgets, end to end: a real hub (its own, with a short retry backoff), real
daemons running the fake claude, the CLI. docs/scheduling.md, "Retries" and "Budgets".

Each retry cause: runner_failed rerun then completed (two attempts listed, the output of both
with the hub's attempt line between); launch_failed not rerun by default; timed_out rerun;
agent_lost re-queued automatically (an agent that went silent before it started the task);
cancelled never rerun. ``--max-cost``: Claude Code's own flag in the argv, and a run that reports
more ends failed with cause budget. A daily budget reached: new tasks wait with the reason, the
admin's webhook hears of it, a higher budget lets them go; ``orchestratia costs`` sums it.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from integration_harness import Agent, Cli, Hub, free_port, retire_agent, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

#: the hub's first retry waits this long (ORCHESTRATIA_RETRY_BACKOFF_S): long enough to see the
#: reason while it waits, short enough for a test
BACKOFF_S = 3


def start_hub(workdir: Path, **env: str) -> Hub:
    return Hub(workdir, extra_env={"ORCHESTRATIA_RETRY_BACKOFF_S": str(BACKOFF_S), **env}).start()


@pytest.fixture(scope="module")
def rhub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    hub = start_hub(tmp_path_factory.mktemp("retry-hub"))
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    started: list[Agent] = []

    def factory(hub: Hub, **overrides: Any) -> Agent:
        agent = Agent(hub, tmp_path / f"a-{uuid.uuid4().hex[:6]}", f"rb-{uuid.uuid4().hex[:8]}", overrides=overrides)
        started.append(agent)
        return agent.register().start()

    yield factory
    for agent in started:
        retire_agent(agent.hub, agent.name, agent.stop)


def causes(task: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(a["status"], a["cause"]) for a in task["attempts"]]


def test_runner_failed_is_rerun_after_the_backoff_then_completes(rhub: Hub, daemons, tmp_path: Path) -> None:
    agent = daemons(rhub)
    cli = Cli(rhub, tmp_path / "cli")
    flag = tmp_path / "failed-once"
    task = cli.create_task(f"flaky job FAKE_FAIL_ONCE={flag} FAKE_COST=0.01", agent.name, "work", "flaky",
                           "--retry", "2")
    waiting = wait_for(lambda: (t := rhub.task(task["id"]))["queue_reason"] and
                       t["queue_reason"].startswith("retry ") and t, 60, "the rerun's wait")
    assert waiting["status"] == "queued" and waiting["failure_cause"] == "runner_failed"
    assert waiting["queue_reason"] == f"retry 1/2 after {BACKOFF_S} s (runner_failed)"
    done = rhub.wait_final(task["id"], 60)
    assert done["status"] == "completed" and done["failure_cause"] is None and done["error"] is None, done
    assert causes(done) == [("failed", "runner_failed"), ("completed", None)]
    first, second = done["attempts"]
    assert first["agent"] == second["agent"] == agent.name and first["exit_code"] == 1
    assert done["cost_usd"] == pytest.approx(0.02) and first["cost_usd"] == pytest.approx(0.01)
    output = rhub.output(task["id"])
    assert first["output_end"] < second["output_start"] == output.index(b"\n", first["output_end"] + 1) + 1
    assert b"Fake failure requested" in output[: first["output_end"]]
    assert b"Fake claude done" in output[second["output_start"]:]
    assert "attempt 1 failed (runner_failed); attempt 2: retry 1/2 after 3 s" in output.decode()
    watched = cli.run("tasks", "watch", task["id"])  # replays both attempts, the hub's line between them
    assert "attempt 1 failed (runner_failed); attempt 2: retry 1/2" in watched.stdout
    assert watched.stdout.index("attempt 1 failed") < watched.stdout.rindex("Fake claude done")
    shown = cli.run("tasks", "show", task["id"]).stdout
    assert "attempts" in shown and "runner_failed" in shown and f"--offset {second['output_start']}" in shown


def test_launch_failed_is_not_rerun_by_default(rhub: Hub, daemons, tmp_path: Path) -> None:
    agent = daemons(rhub)
    cli = Cli(rhub, tmp_path / "cli")
    task = cli.create_task("anything", agent.name, "work", "no runner", "--runner", "nosuch", "--retry", "2")
    done = rhub.wait_final(task["id"], 60)
    assert done["status"] == "failed" and done["failure_cause"] == "launch_failed", done
    assert causes(done) == [("failed", "launch_failed")]
    assert "unknown runner 'nosuch'" in done["error"]


def test_a_timed_out_run_is_rerun(rhub: Hub, daemons, tmp_path: Path) -> None:
    agent = daemons(rhub)
    cli = Cli(rhub, tmp_path / "cli")
    task = cli.create_task("slow FAKE_LINES=1 FAKE_SLEEP=120", agent.name, "work", "slow",
                           "--timeout", "0.05", "--retry", "1")
    done = rhub.wait_final(task["id"], 90)
    assert done["status"] == "timed_out" and done["failure_cause"] == "timed_out", done
    assert causes(done) == [("timed_out", "timed_out"), ("timed_out", "timed_out")]
    assert "attempt 1 timed_out (timed_out); attempt 2: retry 1/1" in rhub.output(task["id"]).decode()


def test_a_cancelled_task_is_never_rerun(rhub: Hub, daemons, tmp_path: Path) -> None:
    agent = daemons(rhub)
    cli = Cli(rhub, tmp_path / "cli")
    refused = cli.run("tasks", "create", "--title", "t", "--spec", "s", "--retry", "1", "--retry-on", "cancelled",
                      check=False)
    assert refused.returncode != 0 and "--retry-on takes causes" in refused.stderr
    task = cli.create_task("long FAKE_LINES=1 FAKE_SLEEP=120", agent.name, "work", "long", "--retry", "3",
                           "--retry-on", "runner_failed,timed_out,agent_lost")
    rhub.wait_status(task["id"], "running", 60)
    cli.run("tasks", "cancel", task["id"])
    done = rhub.wait_final(task["id"], 60)
    assert done["status"] == "cancelled" and done["failure_cause"] == "cancelled", done
    assert causes(done) == [("cancelled", "cancelled")]


def test_max_cost_goes_to_claude_and_a_run_past_it_fails_with_cause_budget(rhub: Hub, daemons, tmp_path: Path) -> None:
    agent = daemons(rhub)
    cli = Cli(rhub, tmp_path / "cli")
    task = cli.create_task("costly FAKE_COST=0.5 FAKE_ECHO_ARGV", agent.name, "work", "costly", "--max-cost", "0.25",
                           "--retry", "2")
    done = rhub.wait_final(task["id"], 60)
    assert done["status"] == "failed" and done["failure_cause"] == "budget", done
    assert causes(done) == [("failed", "budget")]  # not in the default retry_on
    assert done["max_cost_usd"] == 0.25 and done["cost_usd"] == 0.5
    assert "--max-budget-usd=0.25" in rhub.output(task["id"]).decode()
    assert "cost" in cli.run("tasks", "show", task["id"]).stdout


def test_agent_lost_before_the_start_is_requeued_automatically(daemons, tmp_path: Path) -> None:
    hub = start_hub(tmp_path / "lost-hub", ORCHESTRATIA_OFFLINE_AFTER_S="3", ORCHESTRATIA_LOST_GRACE_S="4")
    try:
        reg = httpx.post(f"{hub.url}/api/v1/agents/register", timeout=10, json={
            "name": "silent", "hostname": "h", "ip": "127.0.0.1", "os": "Linux", "repos": {"work": str(tmp_path)},
            "system_info": {}, "registration_token": hub.create_token("silent")})
        assert reg.status_code == 200, reg.text
        silent = httpx.Client(base_url=f"{hub.url}/api/v1/agents", headers={"X-API-Key": reg.json()["api_key"]},
                              timeout=10)
        assert silent.post("/heartbeat", json={}).status_code == 200
        assigned = threading.Event()

        def beat() -> None:  # online until it has the task, then never heard of again
            while not assigned.wait(0.5):
                silent.post("/heartbeat", json={})

        beating = threading.Thread(target=beat, daemon=True)
        beating.start()
        cli = Cli(hub, tmp_path / "cli")
        task = cli.json("tasks", "create", "--title", "t", "--spec", "hello", "--repo", "work")
        try:
            hub.wait_status(task["id"], "assigned", 30)
        finally:
            assigned.set()
            beating.join()
        requeued = hub.wait_status(task["id"], "queued", 60)
        assert requeued["failure_cause"] == "agent_lost" and causes(requeued) == [("lost", "agent_lost")]
        assert requeued["attempts"][0]["agent"] == "silent" and requeued["attempts"][0]["started_at"] is None
        worker = daemons(hub, heartbeat_interval=1)
        done = hub.wait_final(task["id"], 60)
        assert done["status"] == "completed", done
        assert causes(done) == [("lost", "agent_lost"), ("completed", None)]
        assert done["attempts"][1]["agent"] == worker.name
    finally:
        hub.stop()


class Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append({"event": self.headers.get("X-Orchestratia-Event"), "body": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_reached_daily_budget_holds_new_tasks_and_tells_the_admin(daemons, tmp_path: Path) -> None:
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hooks = [{"url": f"http://127.0.0.1:{port}/hook", "secret": "s3cret", "events": ["budget.reached"]}]
    hub = start_hub(tmp_path / "budget-hub", ORCHESTRATIA_WEBHOOKS=json.dumps(hooks))
    try:
        agent = daemons(hub)
        cli = Cli(hub, tmp_path / "cli")
        assert "hub-wide" in cli.run("budgets", "set", "--daily", "0.3").stdout
        first = cli.create_task("spend FAKE_COST=0.4", agent.name, "work", "spend")
        assert hub.wait_final(first["id"], 60)["status"] == "completed"
        hooked = wait_for(lambda: Receiver.received, 30, "the budget.reached webhook")
        assert hooked[0]["event"] == "budget.reached"
        assert hooked[0]["body"]["data"]["spent_usd"] == 0.4 and "Daily budget reached" in hooked[0]["body"]["text"]
        waiting = cli.json("tasks", "create", "--title", "next", "--spec", "more", "--repo", "work")
        reason = wait_for(lambda: hub.task(waiting["id"])["queue_reason"], 30, "a queue reason")
        assert reason == "budget reached ($0.30 today)"
        assert hub.task(waiting["id"])["status"] == "queued"
        listed = cli.json("budgets", "list")
        assert listed == [{"label": "", "daily_usd": 0.3, "spent_today_usd": 0.4, "reached": True}]
        costs = cli.json("costs", "--days", "1")
        assert costs["total_usd"] == 0.4 and costs["by_agent"][0]["key"] == agent.name
        assert costs["by_agent"][0]["input_tokens"] == 100 and costs["by_agent"][0]["runs"] == 1
        assert agent.name in cli.run("costs").stdout
        cli.run("budgets", "set", "--daily", "5")  # a higher limit lets the waiting task go
        assert hub.wait_final(waiting["id"], 60)["status"] == "completed"
    finally:
        hub.stop()
        server.shutdown()
