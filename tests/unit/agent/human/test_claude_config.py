"""The per-task Claude Code additions: MCP config and hook settings files, and that the hook
command they carry really runs (through a shell, as Claude Code runs it) and fails closed."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

from orchestratia.agent.human import claude_config, wire


def test_mcp_only_when_policy_is_none(tmp_path) -> None:
    env = {wire.ENV_TASK_ID: "t1", wire.ENV_TASK_CREDENTIAL: "secret-x", wire.ENV_SOCKET: "/run/x.sock"}
    setup = claude_config.prepare_claude_task(tmp_path, "t1", env, approval_policy="none")
    assert setup.allowed_tools == ["mcp__orchestratia__ask_human"]
    assert setup.argv == [f"--mcp-config={tmp_path / 'human-t1.mcp.json'}"]
    path = setup.files[0]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    server = json.loads(path.read_text())["mcpServers"]["orchestratia"]
    assert server["args"][-1] == "mcp" and server["env"] == env and server["timeout"] >= 3600 * 1000
    assert "secret-x" not in " ".join(setup.argv)  # the credential is in the 0600 file only
    claude_config.cleanup(setup)
    assert not path.exists()


def test_hook_settings_and_the_command_runs_through_a_shell(tmp_path) -> None:
    env = {wire.ENV_TASK_ID: "t1", wire.ENV_TASK_CREDENTIAL: "c", wire.ENV_SOCKET: str(tmp_path / "none.sock")}
    rules = ["allow Read", "ask Bash(git push *)", "deny Bash(rm '$(x)' *)"]
    setup = claude_config.prepare_claude_task(tmp_path, "t1", env, approval_policy="risky",
                                              approval_rules=rules, approval_timeout_s=1)
    assert setup.argv[1] == f"--settings={tmp_path / 'human-t1.settings.json'}"
    settings = json.loads((tmp_path / "human-t1.settings.json").read_text())
    entry = settings["hooks"]["PreToolUse"][0]
    assert entry["matcher"] == "*"
    hook = entry["hooks"][0]
    assert hook["type"] == "command" and hook["timeout"] == 61
    payload = json.dumps({"tool_name": "Bash", "tool_input": {"command": "rm '$(x)' -rf /"}, "cwd": str(tmp_path)})
    run = subprocess.run(["sh", "-c", hook["command"]], input=payload, capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=60)
    out = json.loads(run.stdout)["hookSpecificOutput"]
    assert run.returncode == 0 and out["permissionDecision"] == "deny" and "rm '$(x)' *" in out["permissionDecisionReason"]
    payload = json.dumps({"tool_name": "Read", "tool_input": {"file_path": "/etc/hosts"}})
    run = subprocess.run(["sh", "-c", hook["command"]], input=payload, capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=60)
    assert run.returncode == 0 and run.stdout == ""
    payload = json.dumps({"tool_name": "Bash", "tool_input": {"command": "git push"}})
    run = subprocess.run(["sh", "-c", hook["command"]], input=payload, capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=60)  # no daemon at the socket: deny
    assert json.loads(run.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_bad_policy_or_rule_fails_when_the_task_starts(tmp_path) -> None:
    with pytest.raises(ValueError):
        claude_config.prepare_claude_task(tmp_path, "t1", {}, approval_policy="sometimes")
    with pytest.raises(ValueError):
        claude_config.prepare_claude_task(tmp_path, "t1", {}, approval_policy="all", approval_rules=["permit Read"])


def test_hook_only_fails_closed(tmp_path) -> None:
    setup = claude_config.prepare_hook_only(tmp_path, "t1", "sometimes", approval_rules=["permit Read"])
    settings = json.loads(setup.files[0].read_text())
    command = settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    assert "--policy all" in command and "--rule" not in command and setup.allowed_tools == []
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATIA_")}
    run = subprocess.run(["sh", "-c", command], input=json.dumps({"tool_name": "Bash", "tool_input": {"command": "ls"}}),
                         capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(run.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
