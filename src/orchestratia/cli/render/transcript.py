"""Claude Code's stream-json output (one JSON object per line) as a readable transcript on a
terminal, after the dashboard's (``hub/dashboard/static/js/transcript.js``): assistant text as
prose, each tool call with its result, the final result with cost and turns; thinking and the
telling ``system`` events as dim notes. Lines that are not JSON objects with a ``type`` are
shown as text (colour kept, other control sequences visible); unknown event types are skipped
(/work/shared/AGENT_CLIS.md: readers must tolerate them). Every string is the agent's, so all
of it goes through :func:`~.safe.visible`."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.text import Text

from .safe import SafeStream, visible

BRIEF_KEYS = ("command", "file_path", "path", "pattern", "url", "query", "description", "prompt")
#: a tool result longer than this many lines shows its first ones and a count (``--raw`` has all)
RESULT_LINES = 8
THINKING_LINES = 3


def clip(value: Any, width: int = 110) -> str:
    text = visible(" ".join(str(value).split()))
    return text if len(text) <= width else text[: width - 3] + "…"


def brief(tool_input: Any) -> str:
    """The one argument that says what a tool call does (its command, path, pattern...)."""
    if not isinstance(tool_input, dict):
        return ""
    for key in (*BRIEF_KEYS, *tool_input):
        if isinstance(tool_input.get(key), str):
            return clip(tool_input[key])
    return ""


def pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def result_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text") or ""))
            elif isinstance(block, dict) and block.get("type") == "image":
                parts.append("[image]")
            else:
                parts.append(pretty(block))
        return "\n".join(parts)
    return pretty(content)


def money(value: Any) -> str | None:
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return None
    if amount != amount or amount in (float("inf"), float("-inf")):
        return None
    return f"${amount:.4f}" if amount < 1 else f"${amount:.2f}"


def duration(ms: Any) -> str:
    try:
        seconds = float(ms) / 1000
    except (TypeError, ValueError):
        return visible(ms)
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def head(text: str, lines: int) -> str:
    """The first ``lines`` lines, and how many more there were."""
    all_lines = text.rstrip("\n").split("\n")
    if len(all_lines) <= lines:
        return "\n".join(all_lines)
    return "\n".join(all_lines[:lines]) + f"\n… ({len(all_lines) - lines} more lines)"


class TranscriptOutput:
    """Feed it the task's output as it arrives; it prints whole lines as they complete."""

    def __init__(self, console: Console | None = None) -> None:
        self.out = console or Console(highlight=False, soft_wrap=True)
        self.buf = ""
        self.tools: dict[str, str] = {}  # tool_use id -> tool name

    def feed(self, text: str) -> None:
        self.buf += text
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            self.line(line)

    def close(self) -> None:
        if self.buf:
            rest, self.buf = self.buf, ""
            self.line(rest)

    def print(self, *parts: tuple[str, str]) -> None:
        self.out.print(Text.assemble(*((visible(text, multiline=True), style) for text, style in parts)))

    def line(self, line: str) -> None:
        text = line.rstrip("\r")
        if not text.strip():
            return
        if text.lstrip().startswith("{"):
            try:
                event = json.loads(text)
            except ValueError:
                event = None
            if isinstance(event, dict) and isinstance(event.get("type"), str):
                handler = getattr(self, f"on_{event['type']}", None)
                if handler is not None:
                    handler(event)
                return
        safe = SafeStream()
        self.out.print(Text.from_ansi(safe.feed(text) + safe.flush()))

    def on_system(self, event: dict[str, Any]) -> None:
        subtype = event.get("subtype")
        if subtype == "init":
            bits = ["session started"]
            bits += [str(event[k]) for k in ("model", "cwd") if event.get(k)]
            if isinstance(event.get("tools"), list):
                bits.append(f"{len(event['tools'])} tools")
            self.print(("● " + " · ".join(bits), "dim"))
        elif subtype == "api_retry":
            self.print((f"! API retry{' #' + str(event['attempt']) if event.get('attempt') else ''}", "yellow"))
        elif subtype == "permission_denied":
            self.print((f"! permission denied{': ' + str(event['tool_name']) if event.get('tool_name') else ''}", "yellow"))
        elif subtype == "compact_boundary":
            self.print(("● conversation compacted", "dim"))
        # hooks and other side events: not shown, as on the dashboard

    def on_assistant(self, event: dict[str, Any]) -> None:
        message = event.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text" and block.get("text"):
                self.print((str(block["text"]), ""))
            elif kind == "thinking" and block.get("thinking"):
                self.print(("✻ thinking: ", "dim italic"), (head(str(block["thinking"]), THINKING_LINES), "dim italic"))
            elif kind == "tool_use":
                name = str(block.get("name") or "tool")
                if block.get("id"):
                    self.tools[str(block["id"])] = name
                self.print(("→ ", "cyan"), (name, "bold cyan"), ("  " + brief(block.get("input")), "cyan"))

    def on_user(self, event: dict[str, Any]) -> None:
        message = event.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            self.print(("› ", "bold"), (content, ""))
            return
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            failed = block.get("is_error") is True
            name = self.tools.get(str(block.get("tool_use_id")), "tool")
            body = head(result_text(block.get("content")), RESULT_LINES) or "(empty)"
            style = "red" if failed else "dim"
            self.print((f"  {'✗ ' + name + ' error' if failed else '← ' + name + ' result'}:", style))
            self.print(("    " + body.replace("\n", "\n    "), style))

    def on_result(self, event: dict[str, Any]) -> None:
        failed = event.get("is_error") is True or (event.get("subtype") not in (None, "success"))
        facts = []
        cost = money(event.get("total_cost_usd"))
        if cost:
            facts.append(f"cost {cost}")
        if event.get("num_turns") is not None:
            facts.append(f"{event['num_turns']} turns")
        if event.get("duration_ms") is not None:
            facts.append(duration(event["duration_ms"]))
        usage = event.get("usage")
        if isinstance(usage, dict) and usage.get("output_tokens") is not None:
            facts.append(f"tokens {usage.get('input_tokens') or 0} in · {usage['output_tokens']} out")
        head_line = ("✗ failed" if failed else "✓ finished") + (f" ({event['subtype']})" if event.get("subtype") else "")
        self.print((head_line, "bold red" if failed else "bold green"), ("  " + " · ".join(facts), ""))
        if isinstance(event.get("result"), str) and event["result"]:
            self.print((event["result"], ""))
        errors = event.get("errors")
        for error in errors if isinstance(errors, list) else []:
            self.print(("  - ", "red"), (str(error), "red"))
