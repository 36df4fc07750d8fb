"""Claude Code: ``claude -p PROMPT --output-format stream-json --verbose ...`` (AGENT_CLIS.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base import (LaunchPlan, Runner, RunReport, check_conversation_id, iter_json_lines, last_text_line,
                   prompt_needs_stdin, safe_line)
from .limits import claude_usage_limit


def build_claude_argv(prompt: str, binary: str = "claude", allowed_tools: str = "", max_turns: int | None = None,
                      model: str | None = None, permission_mode: str | None = None,
                      extra_args: list[str] | None = None, resume: str | None = None) -> tuple[list[str], bytes | None]:
    """argv and stdin for one headless run. The prompt goes right after ``-p`` unless it is
    large, contains NUL or starts with ``-`` (then it goes on stdin). List and value flags use
    the ``--flag=value`` form so nothing can swallow or be mistaken for the prompt.
    ``resume``: the conversation (``session_id``) the run continues (``--resume ID``)."""
    argv = [binary, "-p"]
    stdin: bytes | None = None
    if prompt_needs_stdin(prompt):
        stdin = prompt.encode("utf-8", errors="replace")
    else:
        argv.append(prompt)
    argv += ["--output-format", "stream-json", "--verbose"]
    if resume:
        argv += ["--resume", check_conversation_id(resume)]
    if allowed_tools:
        argv.append(f"--allowedTools={allowed_tools}")
    if max_turns:
        argv.append(f"--max-turns={int(max_turns)}")
    if model:
        argv.append(f"--model={model}")
    if permission_mode:
        argv.append(f"--permission-mode={permission_mode}")
    argv += list(extra_args or [])
    return argv, stdin


@dataclass
class ClaudeStream:
    """What a stream-json run said: filled by :func:`parse_stream_json`."""

    session_id: str | None = None
    model: str | None = None
    result_event: dict[str, Any] | None = None
    last_text: str = ""
    events: int = 0
    unknown: int = 0
    tool_uses: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


KNOWN_TYPES = {"system", "assistant", "user", "result", "stream_event", "rate_limit_event"}


def parse_stream_json(data: bytes) -> ClaudeStream:
    s = ClaudeStream()
    for ev in iter_json_lines(data):
        etype = ev.get("type")
        if etype not in KNOWN_TYPES:
            s.unknown += 1
            continue
        s.events += 1
        if etype == "system" and ev.get("subtype") == "init":
            s.session_id = ev.get("session_id") or s.session_id
            s.model = ev.get("model") or s.model
        elif etype == "assistant":
            msg = ev.get("message") if isinstance(ev.get("message"), dict) else {}
            for block in msg.get("content") or []:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "text" and isinstance(block.get("text"), str):
                    s.last_text = block["text"]
                elif block.get("type") == "tool_use":
                    s.tool_uses += 1
        elif etype == "result":
            s.result_event = ev
            s.session_id = ev.get("session_id") or s.session_id
    return s


def claude_report(exit_code: int, data: bytes) -> RunReport:
    """Success = exit status 0 and the result event not ``is_error`` (never the subtype alone,
    never words in the text)."""
    s = parse_stream_json(data)
    r = s.result_event or {}
    is_error = bool(r.get("is_error", False))
    cost = r.get("total_cost_usd")
    turns = r.get("num_turns")
    rep = RunReport(
        ok=exit_code == 0 and not is_error,
        summary=str(r.get("result") or s.last_text or ""),
        cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
        num_turns=int(turns) if isinstance(turns, int) else None,
        session_id=s.session_id,
    )
    if r:
        rep.extra["is_error"] = is_error
        if r.get("subtype"):
            rep.extra["subtype"] = r["subtype"]
        if r.get("api_error_status") is not None:
            rep.extra["api_error_status"] = r["api_error_status"]
        if isinstance(r.get("usage"), dict):  # tokens, for the hub's cost sums
            rep.extra["usage"] = {k: v for k, v in r["usage"].items() if isinstance(v, int) and not isinstance(v, bool)}
    errors = [str(e) for e in (r.get("errors") or []) if e]
    said = "; ".join(errors) or (str(r["result"]) if is_error and r.get("result") else "")
    # no result event (a bad flag, a crash): its own last line on stderr, e.g. "error: unknown option"
    rep.last_line = safe_line(said) if said else last_text_line(data) or safe_line(s.last_text)
    if not rep.ok and (limit := claude_usage_limit(data, str(r.get("result") or s.last_text or ""))) is not None:
        rep.usage_limited, rep.resets_at = True, limit.resets_at
        if limit.kind:
            rep.extra["rate_limit_type"] = limit.kind
    if not rep.ok:
        if said:
            why = rep.last_line
        elif exit_code == 143:
            why = "terminated by SIGTERM"
        elif not r:
            why = "no result event; last output: " + (last_text_line(data) or "(none)")
        else:
            why = last_text_line(data) or "see the output"
        rep.error = f"claude exited with status {exit_code}: {why}"
    return rep


class ClaudeRunner(Runner):
    name = "claude"

    def build(self, prompt: str) -> LaunchPlan:
        return self._plan(prompt, None)

    def build_resume(self, prompt: str, session_id: str) -> LaunchPlan | None:
        return self._plan(prompt, session_id)

    def _plan(self, prompt: str, resume: str | None) -> LaunchPlan:
        sec = self.section
        argv, stdin = build_claude_argv(
            prompt, binary=self.find_binary() or self.binary, allowed_tools=sec.allowed_tools,
            max_turns=sec.max_turns, model=sec.model, permission_mode=sec.permission_mode, extra_args=sec.extra_args,
            resume=resume,
        )
        return LaunchPlan(argv=argv, stdin_data=stdin)

    def report(self, exit_code: int, log: bytes) -> RunReport:
        return claude_report(exit_code, log)

    def cost_limit_args(self, max_cost_usd: float) -> list[str] | None:
        """Claude Code ends a run past it with ``error_max_budget_usd`` (AGENT_CLIS.md)."""
        return [f"--max-budget-usd={max_cost_usd:g}"]
