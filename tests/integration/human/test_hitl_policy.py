"""Approval policies through the hub, the CLI and the daemon: per task, per agent, and the
fail-closed setup when the relay is off; approvals are a kind of intervention."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

from integration_harness import Agent, Cli, Hub, base_env, wait_for

from orchestratia.hub.session_cookies import csrf_for_session

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _claude_task(cli: Cli, agent: Agent, *extra: str, repo: str = "work") -> str:
    return cli.create_task("work FAKE_LINES=1 FAKE_SLEEP=60", agent.name, repo, "policy", "--runner", "claude",
                           *extra)["id"]


def _files(agent: Agent, task_id: str) -> tuple[Path, Path]:
    run = agent.workdir / "run"
    return run / f"human-{task_id}.mcp.json", run / f"human-{task_id}.settings.json"


def _started(hub: Hub, task_id: str) -> None:
    wait_for(lambda: b'"init"' in hub.output(task_id), 30, "the fake claude's init event")


def test_policy_per_task_and_per_agent(hub: Hub, cli: Cli, make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    repos = {name: tmp_path / name for name in ("r1", "r2", "r3")}  # one running task per repo directory
    agent = make_agent(repos=repos, overrides={"human": {"approval_policy": "risky",
                                                         "approval_rules": ["ask Bash(git push *)"]}})
    default = _claude_task(cli, agent, repo="r1")
    none = _claude_task(cli, agent, "--approval-policy", "none", repo="r2")
    strict = _claude_task(cli, agent, "--approval-policy", "all", repo="r3")
    for task_id in (default, none, strict):
        _started(hub, task_id)
    assert hub.task(strict)["approval_policy"] == "all"
    mcp, settings = _files(agent, default)
    assert mcp.exists() and settings.exists()
    command = json.loads(settings.read_text())["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    assert "--policy risky" in command and "git push" in command
    mcp, settings = _files(agent, none)
    assert mcp.exists() and not settings.exists()
    command = json.loads(_files(agent, strict)[1].read_text())["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    assert "--policy all" in command
    bad = cli.run("tasks", "create", "--title", "x", "--spec", "x", "--agent", agent.name, "--approval-policy",
                  "sometimes", check=False)
    assert bad.returncode != 0 and "none, risky or all" in bad.stderr
    assert hub.api("POST", "/tasks", json={"title": "x", "spec": "x", "approval_policy": "maybe"}).status_code == 422
    for task_id in (default, none, strict):
        hub.api("POST", f"/tasks/{task_id}/cancel", json={"reason": "done"})


def test_relay_off_still_fails_closed(hub: Hub, cli: Cli, make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    agent = make_agent(overrides={"human": {"enabled": False, "approval_policy": "all"}})
    task_id = _claude_task(cli, agent)
    _started(hub, task_id)
    mcp, settings = _files(agent, task_id)
    assert not mcp.exists() and settings.exists()
    command = json.loads(settings.read_text())["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    env = {k: v for k, v in base_env(tmp_path).items() if not k.startswith("ORCHESTRATIA_")}
    run = subprocess.run(["sh", "-c", command], input=json.dumps({"tool_name": "Bash", "tool_input": {"command": "ls"}}),
                         capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(run.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    hub.api("POST", f"/tasks/{task_id}/cancel", json={"reason": "done"})


def test_approval_is_a_kind_of_intervention(hub: Hub, cli: Cli, agent: Agent, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    task_id = cli.create_task(f"env | grep '^ORCHESTRATIA_' > {env_file}.tmp; mv {env_file}.tmp {env_file}; sleep 60",
                              agent.name, "work", "approval kind", "--runner", "shell")["id"]
    wait_for(env_file.exists, 30, "the task's environment")
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    payload = {"tool_name": "Bash", "tool_input": {"command": "git push origin main"}, "tool_use_id": "toolu_kind",
               "cwd": str(tmp_path), "hook_event_name": "PreToolUse"}
    proc = subprocess.Popen([sys.executable, "-m", "orchestratia.agent.human", "approval-hook", "--policy", "risky"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**base_env(tmp_path), **env})
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(payload))
    proc.stdin.close()

    def pending() -> list[dict[str, Any]]:
        return [i for i in hub.api("GET", "/interventions", params={"status": "pending"}).json() if i["task_id"] == task_id]

    item = wait_for(pending, 30, "the approval request")[0]
    assert item["kind"] == "approval" and item["tool_name"] == "Bash"
    assert item["tool_input"] == {"command": "git push origin main"}
    # the dashboard shows the tool call with Approve / Deny; a click on Approve answers "approve"
    csrf = csrf_for_session(hub.token)  # the CSRF token is bound to the session
    cookies = {"orc_session": hub.token, "orc_csrf": csrf}
    page = httpx.get(f"{hub.url}/interventions", cookies=cookies, timeout=15)
    assert page.status_code == 200 and "Approve" in page.text and "Deny" in page.text, page.text[:500]
    assert "git push origin main" in page.text and "<code>Bash</code>" in page.text
    click = httpx.post(f"{hub.url}/interventions/{item['id']}/answer", cookies=cookies, timeout=15,
                       data={"csrf": csrf, "response": "approve"})
    assert click.status_code in (200, 303), click.text[:500]
    proc.wait(timeout=30)
    assert json.loads(proc.stdout.read())["hookSpecificOutput"]["permissionDecision"] == "allow"
    questions = [i for i in hub.api("GET", "/interventions").json() if i["task_id"] == task_id]
    assert all(i["kind"] in ("question", "approval") for i in questions)
    hub.api("POST", f"/tasks/{task_id}/cancel", json={"reason": "done"})
