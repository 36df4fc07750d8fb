"""``orchestratia approval-hook``: Claude Code's PreToolUse hook that asks a human.

Input: the hook's JSON on stdin, parsed as data (``tool_name``, ``tool_input``, ``cwd``,
``tool_use_id``, ...). Output: nothing when no human is needed (Claude Code's own permissions
apply), else one ``hookSpecificOutput`` object with ``permissionDecision`` ``allow`` or
``deny`` and a reason. It fails closed: bad input, bad rules, no task environment, an unreachable
daemon, a cancelled question or no answer in time all mean ``deny``.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from orchestratia.agent.human import approval, asker, wire

DEFAULT_TIMEOUT_S = 600.0


def decision(permission: str, reason: str) -> dict[str, Any]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": permission,
            "permissionDecisionReason": reason,
        }
    }


def deny(reason: str) -> dict[str, Any]:
    return decision("deny", reason)


def _parse_input(stdin_text: str) -> tuple[str, Any, str | None, str | None]:
    data = json.loads(stdin_text)
    if not isinstance(data, dict):
        raise ValueError("hook input is not a JSON object")
    tool_name = data.get("tool_name")
    if not isinstance(tool_name, str) or not tool_name:
        raise ValueError("hook input has no tool_name")
    cwd = data.get("cwd") if isinstance(data.get("cwd"), str) else None
    tool_use_id = data.get("tool_use_id") if isinstance(data.get("tool_use_id"), str) else None
    return tool_name, data.get("tool_input"), cwd, tool_use_id


def _request_id(tool_use_id: str | None) -> str:
    """The tool-use id when it is a plain id (so a re-run hook resumes the same question)."""
    if tool_use_id and re.fullmatch(r"[A-Za-z0-9_-]{1,120}", tool_use_id):
        return f"approval-{tool_use_id}"
    return f"approval-{uuid.uuid4().hex}"


def run(
    stdin_text: str,
    *,
    policy: str = "all",
    rules: list[str] | str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """The hook's decision: a ``hookSpecificOutput`` object, or None for "no opinion"."""
    try:
        parsed_rules = approval.parse_rules(rules)
    except ValueError as exc:
        return deny(f"Orchestratia approval rules are invalid ({exc}); denied.")
    try:
        tool_name, tool_input, cwd, tool_use_id = _parse_input(stdin_text)
    except ValueError as exc:
        return deny(f"Orchestratia approval hook could not read its input ({exc}); denied.")
    verdict, why = approval.evaluate(policy, parsed_rules, tool_name, tool_input, cwd)
    if verdict == "pass":
        return None
    if verdict == "deny":
        return deny(f"Denied by Orchestratia ({why}).")
    try:
        outcome = asyncio.run(_ask(tool_name, tool_input, cwd, tool_use_id, why, timeout_s, env))
    except asker.NotInTask as exc:
        return deny(f"A human must approve this ({why}) but {exc}; denied.")
    except Exception as exc:  # fail closed on anything unexpected
        return deny(f"A human must approve this ({why}) but asking failed ({exc}); denied.")
    if outcome.answered:
        approved, answer = approval.interpret_answer(outcome.response)
        if approved:
            return decision("allow", f"Approved by a human via Orchestratia: {answer}")
        return deny(f"Denied by a human via Orchestratia: {answer}")
    if outcome.status == "timeout":
        return deny(f"No human approved this within {timeout_s:g} s ({why}); denied. Do not retry it.")
    if outcome.status == "cancelled":
        return deny(f"The approval request was cancelled ({outcome.reason}); denied.")
    return deny(f"Could not reach a human for approval ({outcome.reason}); denied.")


async def _ask(
    tool_name: str,
    tool_input: Any,
    cwd: str | None,
    tool_use_id: str | None,
    why: str,
    timeout_s: float,
    env: Mapping[str, str] | None,
) -> asker.AskOutcome:
    context = f"Why approval is needed: {why}." + (f"\nWorking directory: {cwd}" if cwd else "")
    coro = asker.ask(
        "", context, kind=wire.KIND_APPROVAL, tool_name=tool_name, tool_input=tool_input,
        timeout_s=timeout_s, request_id=_request_id(tool_use_id), env=env,
        give_up_after_s=min(timeout_s, 120.0),
    )
    try:
        return await asyncio.wait_for(coro, timeout_s + 5.0)  # hard stop, whatever happens
    except asyncio.TimeoutError:
        return asker.AskOutcome("timeout", reason="no answer in time")


def render(result: dict[str, Any] | None) -> str:
    """What the hook prints on stdout: one JSON object, or nothing."""
    return "" if result is None else json.dumps(result, ensure_ascii=True) + "\n"
