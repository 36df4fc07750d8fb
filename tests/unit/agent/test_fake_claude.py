"""The fake claude's tool-call rules (PreToolUse hooks, --allowedTools patterns) and its MCP
client, so tests of approvals and ask_human through the daemon can rely on it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .agent_helpers import FAKE_CLAUDE

MCP_SERVER = r'''
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("method") == "initialize":
        out = {"jsonrpc": "2.0", "id": msg["id"], "result": {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
               "serverInfo": {"name": "t", "version": "0"}}}
    elif msg.get("method") == "tools/call":
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/progress",
                                     "params": {"progressToken": 2, "progress": 1}}) + "\n")
        q = msg["params"]["arguments"]["question"]
        out = {"jsonrpc": "2.0", "id": msg["id"], "result": {"content": [{"type": "text", "text": "yes to " + q}],
               "isError": False}}
    else:
        continue
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
'''


def run(prompt: str, *extra: str, tools: str = "Read") -> tuple[int, list[dict]]:
    p = subprocess.run([str(FAKE_CLAUDE), "-p", prompt, "--output-format", "stream-json", "--verbose",
                        f"--allowedTools={tools}", *extra], capture_output=True, timeout=30)
    return p.returncode, [json.loads(line) for line in p.stdout.splitlines() if line.startswith(b"{")]


def tool_results(events: list[dict]) -> list[dict]:
    return [c for e in events if e["type"] == "user" for c in e["message"]["content"]]


def test_unlisted_tool_is_denied_and_reported() -> None:
    code, events = run("FAKE_TURNS=2")
    assert code == 0
    (res,) = tool_results(events)
    assert res["is_error"] and "denied" in res["content"]
    assert events[-1]["permission_denials"][0]["tool_name"] == "Bash"


def test_allowed_tools_rule_patterns() -> None:
    _, events = run('FAKE_TURNS=2 FAKE_TOOL_CMD="git diff HEAD"', tools="Read,Bash(git diff *)")
    assert not tool_results(events)[0]["is_error"]
    _, events = run('FAKE_TURNS=2 FAKE_TOOL_CMD="git push origin"', tools="Read,Bash(git diff *)")
    assert tool_results(events)[0]["is_error"]


def test_pretooluse_hook_blocks_and_allows(tmp_path: Path) -> None:
    seen = tmp_path / "hook-input.json"
    deny = {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [
        {"type": "command", "command": f"cat > {seen}; echo 'not on my watch' >&2; exit 2", "timeout": 10}]}]}}
    _, events = run('FAKE_TURNS=2 FAKE_TOOL_CMD="rm -rf /"', f"--settings={json.dumps(deny)}", tools="Bash")
    res = tool_results(events)[0]
    assert res["is_error"] and res["content"] == "not on my watch"
    hook_input = json.loads(seen.read_text())
    assert hook_input["hook_event_name"] == "PreToolUse" and hook_input["tool_name"] == "Bash"
    assert hook_input["tool_input"] == {"command": "rm -rf /"}
    allow = {"hooks": {"PreToolUse": [{"matcher": "*", "hooks": [{"type": "command", "command": (
        "echo '{\"hookSpecificOutput\": {\"hookEventName\": \"PreToolUse\", \"permissionDecision\": \"allow\"}}'")}]}]}}
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(allow))
    _, events = run("FAKE_TURNS=2", f"--settings={settings}", tools="Read")  # Bash not listed, the hook allows
    assert not tool_results(events)[0]["is_error"]


def test_ask_human_through_an_mcp_server(tmp_path: Path) -> None:
    server = tmp_path / "server.py"
    server.write_text(MCP_SERVER)
    config = {"mcpServers": {"orchestratia": {"command": sys.executable, "args": [str(server)], "env": {},
                                              "timeout": 60000}}}
    code, events = run('FAKE_ASK="may I deploy?"', f"--mcp-config={json.dumps(config)}",
                       tools="Read,mcp__orchestratia__ask_human")
    assert code == 0
    assert events[0]["mcp_servers"] == [{"name": "orchestratia", "status": "connected"}]
    (res,) = tool_results(events)
    assert not res["is_error"] and res["content"] == "yes to may I deploy?"
    texts = [c["text"] for e in events if e["type"] == "assistant" for c in e["message"]["content"]
             if c["type"] == "text"]
    assert "The human answered: yes to may I deploy?" in texts
    # without the tool in --allowedTools the call is denied (print mode cannot prompt)
    _, events = run('FAKE_ASK="again?"', f"--mcp-config={json.dumps(config)}", tools="Read")
    assert tool_results(events)[0]["is_error"]
