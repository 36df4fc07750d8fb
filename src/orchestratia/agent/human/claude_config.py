"""What the daemon adds to a Claude Code run so the task can ask humans and get approvals.

Per task it writes two files in the pid dir (mode 0600, so the task credential never shows up
on a command line):

- ``human-<id>.mcp.json`` — ``{"mcpServers": {"orchestratia": {"command", "args", "env",
  "timeout"}}}`` for ``--mcp-config`` (added to the user's other MCP servers, not replacing them);
- ``human-<id>.settings.json`` — ``{"hooks": {"PreToolUse": [...]}}`` for ``--settings``, only
  when the approval policy is not ``none``;

and returns the extra argv plus the tool name for ``--allowedTools``
(``mcp__orchestratia__ask_human``).
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestratia.agent.human import approval, wire
from orchestratia.protocol.shared import write_atomic

#: The MCP server's own wall-clock limit: a human may take a day.
MCP_TIMEOUT_MS = 24 * 3600 * 1000
DEFAULT_APPROVAL_TIMEOUT_S = 600.0


def entry_command() -> list[str]:
    """How to run our entry points: this Python, ``-m orchestratia.agent.human``."""
    return [sys.executable, "-m", "orchestratia.agent.human"]


def mcp_config(env: dict[str, str], *, command: list[str] | None = None, timeout_ms: int = MCP_TIMEOUT_MS) -> dict[str, Any]:
    cmd = command or entry_command()
    return {
        "mcpServers": {
            wire.MCP_SERVER_NAME: {
                "command": cmd[0],
                "args": [*cmd[1:], "mcp"],
                "env": dict(env),
                "timeout": timeout_ms,
            }
        }
    }


def hook_settings(
    policy: str,
    rules: list[str] | None = None,
    *,
    timeout_s: float = DEFAULT_APPROVAL_TIMEOUT_S,
    command: list[str] | None = None,
) -> dict[str, Any]:
    """``--settings`` with the PreToolUse hook. Claude Code's own hook timeout is set above the
    hook's, so the hook always answers (deny on timeout) before Claude Code gives up on it."""
    if policy not in approval.POLICIES:
        raise ValueError(f"approval policy must be one of {', '.join(approval.POLICIES)}, not {policy!r}")
    rules = list(rules or [])
    approval.parse_rules(rules)  # a bad rule fails here, when the task starts, not at each call
    argv = [*(command or entry_command()), "approval-hook", "--policy", policy, "--timeout", f"{timeout_s:g}"]
    for rule in rules:
        argv += ["--rule", rule]
    return {
        "hooks": {
            "PreToolUse": [
                {"matcher": "*", "hooks": [{"type": "command", "command": shlex.join(argv), "timeout": int(timeout_s) + 60}]}
            ]
        }
    }


@dataclass
class ClaudeHumanSetup:
    argv: list[str]  # to add to the claude command line
    allowed_tools: list[str]  # to add to --allowedTools
    files: list[Path] = field(default_factory=list)  # to delete when the task is reported


def _write_private(path: Path, data: dict[str, Any]) -> None:
    write_atomic(str(path), json.dumps(data).encode("utf-8"), 0o600)


def prepare_claude_task(
    pid_dir: str | Path,
    task_id: str,
    env: dict[str, str],
    *,
    approval_policy: str | None = "none",
    approval_rules: list[str] | None = None,
    approval_timeout_s: float = DEFAULT_APPROVAL_TIMEOUT_S,
    command: list[str] | None = None,
) -> ClaudeHumanSetup:
    """Write the task's MCP config (and hook settings) and return what to add to the argv.

    ``env`` is what :meth:`HelpRelay.register_task` returned."""
    pid_dir = Path(pid_dir)
    mcp_path = pid_dir / f"human-{task_id}.mcp.json"
    _write_private(mcp_path, mcp_config(env, command=command))
    setup = ClaudeHumanSetup([f"--mcp-config={mcp_path}"], [wire.MCP_ALLOWED_TOOL], [mcp_path])
    policy = approval_policy or "none"
    if policy != "none":
        settings_path = pid_dir / f"human-{task_id}.settings.json"
        _write_private(settings_path, hook_settings(policy, approval_rules, timeout_s=approval_timeout_s, command=command))
        setup.argv.append(f"--settings={settings_path}")
        setup.files.append(settings_path)
    return setup


def prepare_hook_only(
    pid_dir: str | Path,
    task_id: str,
    approval_policy: str,
    *,
    approval_rules: list[str] | None = None,
    approval_timeout_s: float = DEFAULT_APPROVAL_TIMEOUT_S,
    command: list[str] | None = None,
) -> ClaudeHumanSetup:
    """Fail closed when the relay is missing or the full setup failed: the hook alone (with no
    task environment it denies whatever needs a human). Invalid rules or policy → ``all``."""
    try:
        settings = hook_settings(approval_policy, approval_rules, timeout_s=approval_timeout_s, command=command)
    except ValueError:
        settings = hook_settings("all", [], timeout_s=approval_timeout_s, command=command)
    path = Path(pid_dir) / f"human-{task_id}.settings.json"
    _write_private(path, settings)
    return ClaudeHumanSetup([f"--settings={path}"], [], [path])


def cleanup(setup: ClaudeHumanSetup) -> None:
    for path in setup.files:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
