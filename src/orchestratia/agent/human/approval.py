"""Tool-call approval: policies, rules, and how a human's answer becomes allow / deny.

Pure logic, no I/O. The hook (``hook.py``) feeds it Claude Code's parsed PreToolUse input.

Policies (per agent, overridable per task):

- ``none`` — no hook at all; Claude Code's own permissions (``--allowedTools``) decide.
- ``risky`` — a human approves: ``Bash`` unless the command is one simple read-only command
  (``ls``, ``cat``, ``git status``, ... without any shell operator), ``WebFetch``, edits of files
  outside the task's working directory, MCP tools of other servers, and any tool not known to be
  read-only. Reads, searches and edits inside the working directory pass.
- ``all`` — a human approves every tool call (except ``ask_human`` itself).

Rules refine a policy; one per line, ``ACTION TOOL[(ARGUMENT)]``:

- ``ACTION`` is ``allow`` (no human needed), ``ask`` (a human must approve) or ``deny``
  (refused without asking).
- ``TOOL`` is an fnmatch pattern matched against the tool name, case-sensitive:
  ``Bash``, ``Edit``, ``mcp__github__*``, ``*``.
- ``ARGUMENT`` is an fnmatch pattern matched against the call's subject: the command for
  ``Bash``; the file path for ``Read``/``Write``/``Edit``/``MultiEdit``/``NotebookEdit``; the URL for
  ``WebFetch``; the query for ``WebSearch``; the pattern for ``Grep``/``Glob``; the tool input as
  compact JSON (sorted keys) for anything else. ``*`` matches any text, newlines included.

Order: a matching ``deny`` rule wins, then ``ask``, then ``allow``, then the policy. For Bash, an
``ask`` or ``deny`` rule matches the whole command or any simple command inside it (split at
``;``, ``&&``, ``||``, ``|``, ``&``, newlines, ``$(``, backticks), while an ``allow`` rule only
ever matches a command without shell operators, so ``allow Bash(ls *)`` does not let
``ls; rm -rf ~`` through. ``allow`` means "no human needed": the hook then makes no decision
and Claude Code's own permissions apply — the hook never grants more than a human approved.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass
from typing import Any, Literal

from orchestratia.agent.human import wire
from orchestratia.protocol.policy import POLICY_VALUES, ApprovalPolicy

POLICIES = POLICY_VALUES
Action = Literal["allow", "ask", "deny"]
Decision = Literal["pass", "ask", "deny"]

_RULE_RE = re.compile(r"^\s*(allow|ask|deny)\s+([^\s(]+)\s*(?:\((.*)\))?\s*$", re.DOTALL)
_SHELL_OPERATORS = re.compile(r"[;&|`\n\r<>]|\$\(")
_SPLIT_RE = re.compile(r"\|\||&&|[;&|\n\r`]|\$\(|\)")

READ_ONLY_TOOLS = frozenset(
    {"Read", "Grep", "Glob", "LS", "NotebookRead", "TodoRead", "TodoWrite", "WebSearch", "Task",
     "BashOutput", "ExitPlanMode", "ListMcpResourcesTool", "ReadMcpResourceTool"}
)
EDIT_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})
#: Simple read-only commands ``risky`` lets through (only when the command has no shell operator).
SAFE_COMMANDS = ("ls", "pwd", "cat", "head", "tail", "wc", "grep", "rg", "echo", "which", "true",
                 "git status", "git diff", "git log", "git show")
_SUBJECT_KEYS = {"Bash": "command", "Read": "file_path", "Write": "file_path", "Edit": "file_path",
                 "MultiEdit": "file_path", "NotebookEdit": "notebook_path", "WebFetch": "url",
                 "WebSearch": "query", "Grep": "pattern", "Glob": "pattern"}


@dataclass(frozen=True)
class Rule:
    action: Action
    tool: str
    argument: str | None
    text: str

    def matches(self, tool_name: str, tool_input: Any) -> bool:
        if not fnmatch.fnmatchcase(tool_name, self.tool):
            return False
        if self.argument is None:
            return True
        subject = call_subject(tool_name, tool_input)
        if tool_name != "Bash":
            return fnmatch.fnmatchcase(subject, self.argument)
        if self.action == "allow":
            return not _SHELL_OPERATORS.search(subject) and fnmatch.fnmatchcase(subject.strip(), self.argument)
        parts = [subject.strip()] + [p.strip() for p in _SPLIT_RE.split(subject)]
        return any(p and fnmatch.fnmatchcase(p, self.argument) for p in parts)


def parse_rule(text: str) -> Rule:
    """``allow Read`` / ``ask Bash(git push *)`` / ``deny Bash(rm -rf *)``; ValueError if bad."""
    match = _RULE_RE.match(text)
    if not match:
        raise ValueError(f"not a rule: {text!r} (expected 'allow|ask|deny TOOL' or 'ACTION TOOL(PATTERN)')")
    action, tool, argument = match.groups()
    return Rule(action, tool, argument, text.strip())  # type: ignore[arg-type]


def parse_rules(lines: list[str] | str | None) -> list[Rule]:
    """Rules from a list or a text (one per line; blank lines and ``#`` comments skipped)."""
    if not lines:
        return []
    if isinstance(lines, str):
        lines = lines.splitlines()
    return [parse_rule(line) for line in lines if line.strip() and not line.strip().startswith("#")]


def call_subject(tool_name: str, tool_input: Any) -> str:
    """What rule arguments are matched against (see the module doc)."""
    if isinstance(tool_input, dict):
        key = _SUBJECT_KEYS.get(tool_name)
        if key is not None and isinstance(tool_input.get(key), str):
            return tool_input[key]
    try:
        return json.dumps(tool_input, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(tool_input)


def evaluate(policy: str, rules: list[Rule], tool_name: str, tool_input: Any, cwd: str | None = None) -> tuple[Decision, str]:
    """``("pass" | "ask" | "deny", why)``. Unknown policies are treated as ``all``."""
    if tool_name == wire.MCP_ALLOWED_TOOL:
        return "pass", "asking a human never needs approval"
    for action in ("deny", "ask", "allow"):
        for rule in rules:
            if rule.action == action and rule.matches(tool_name, tool_input):
                return ("pass" if action == "allow" else action), f"rule '{rule.text}'"  # type: ignore[return-value]
    if policy == ApprovalPolicy.NONE:
        return "pass", "approval policy 'none'"
    if policy == ApprovalPolicy.RISKY:
        risky, why = _is_risky(tool_name, tool_input, cwd)
        return ("ask" if risky else "pass"), why
    return "ask", f"approval policy '{policy}' asks for every tool call"


def _is_risky(tool_name: str, tool_input: Any, cwd: str | None) -> tuple[bool, str]:
    if tool_name in READ_ONLY_TOOLS:
        return False, f"{tool_name} is read-only"
    if tool_name == "Bash":
        command = call_subject(tool_name, tool_input).strip()
        if command and not _SHELL_OPERATORS.search(command) and _is_safe_command(command):
            return False, "a simple read-only command"
        return True, "policy 'risky': shell commands need approval"
    if tool_name in EDIT_TOOLS:
        path = call_subject(tool_name, tool_input)
        if cwd and isinstance(path, str) and _inside(path, cwd):
            return False, "an edit inside the working directory"
        return True, "policy 'risky': an edit outside the working directory"
    return True, f"policy 'risky': {tool_name} is not known to be safe"


def _is_safe_command(command: str) -> bool:
    if "--output" in command or " -exec" in command:
        return False
    words = command.split()
    return any(words[: len(safe.split())] == safe.split() for safe in SAFE_COMMANDS)


def _inside(path: str, cwd: str) -> bool:
    base = os.path.realpath(cwd)
    target = os.path.realpath(os.path.join(cwd, path))
    return target == base or target.startswith(base.rstrip(os.sep) + os.sep)


# ---------------------------------------------------------------------------- answers

MAX_SHOWN_INPUT = 200_000
APPROVE_WORDS = frozenset({"approve", "approved", "allow", "allowed", "yes", "y", "ok", "okay"})


def interpret_answer(response: str | None) -> tuple[bool, str]:
    """``(approved, reason)``. Only an answer whose first word is an approval word approves
    (``approve``, ``allow``, ``yes``, ...); anything else denies, with the answer as the reason."""
    text = (response or "").strip()
    first = re.split(r"[\s:,.!;-]+", text, maxsplit=1)[0].lower() if text else ""
    if first in APPROVE_WORDS:
        return True, text
    return False, text or "denied"


def format_approval_request(tool_name: str, tool_input: Any, record: dict[str, Any]) -> tuple[str, str]:
    """``(question, context)`` as a human reads them in the dashboard (v1 help fields)."""
    subject = call_subject(tool_name, tool_input)
    short = subject if len(subject) <= 200 else subject[:200] + "…"
    question = record.get("question") or f"Approve {tool_name}: {short}"
    pretty = json.dumps(tool_input, indent=2, sort_keys=True, ensure_ascii=False, default=repr)
    if len(pretty) > MAX_SHOWN_INPUT:  # the hub takes 1 MiB bodies; a Write may carry more
        pretty = pretty[:MAX_SHOWN_INPUT] + f"\n… (cut: {len(pretty)} characters in all)"
    context = (
        f"Tool call approval. Answer 'approve' to let it run, or 'deny: <reason>' to refuse.\n"
        f"Tool: {tool_name}\nInput:\n{pretty}"
    )
    if record.get("context"):
        context += f"\n\n{record['context']}"
    return question, context
