"""What every runner provides: an argv builder and a parser of the run's log."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Any, Iterator

from orchestratia.protocol.wire import CONVERSATION_ID_PATTERN

#: A prompt larger than this goes on stdin, not on the command line (Linux caps one
#: argument at 128 KiB).
MAX_PROMPT_ARG_BYTES = 64 * 1024


@dataclass
class LaunchPlan:
    argv: list[str]
    stdin_data: bytes | None = None  # written to a 0600 file the launcher feeds to the runner
    script: str | None = None  # shell runner: written to a 0600 file; argv refers to SCRIPT_PLACEHOLDER
    env: dict[str, str] = field(default_factory=dict)


SCRIPT_PLACEHOLDER = "{script}"


@dataclass
class RunReport:
    """What the daemon sends in complete/fail."""

    ok: bool
    error: str = ""
    summary: str = ""
    cost_usd: float | None = None
    num_turns: int | None = None
    session_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: the CLI's own last word (an error line, its result text), one line, made safe: the
    #: daemon adds it to the error of a run it stopped or lost
    last_line: str = ""
    #: the run failed on the plan's usage limit (``limits.py``): the hub parks the task
    usage_limited: bool = False
    resets_at: float | None = None  # epoch seconds, when known

    def result(self, exit_code: int, duration_s: float) -> dict[str, Any]:
        out: dict[str, Any] = {"exit_code": exit_code, "duration_s": round(duration_s, 3)}
        for key in ("cost_usd", "num_turns", "session_id"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["summary"] = self.summary[:4000]
        out.update(self.extra)
        return out


class Runner:
    name = "base"

    def __init__(self, section: Any) -> None:
        self.section = section

    @property
    def binary(self) -> str:
        return getattr(self.section, "binary", "") or self.name

    @property
    def enabled(self) -> bool:
        return bool(getattr(self.section, "enabled", True))

    @property
    def timeout_minutes(self) -> float:
        return float(getattr(self.section, "timeout_minutes", 30))

    def find_binary(self) -> str | None:
        b = self.binary
        if os.sep in b:
            return b if os.access(b, os.X_OK) else None
        return shutil.which(b)

    def unavailable_reason(self) -> str | None:
        """None when usable, else an error telling the operator what to do."""
        if not self.enabled:
            return (f"runner {self.name!r} is not enabled on this agent "
                    f"(set {self.name}.enabled: true in the agent's config.yaml and restart the daemon)")
        if self.find_binary() is None:
            return (f"runner {self.name!r}: {self.binary!r} was not found on the agent's PATH; install it or set "
                    f"{self.name}.binary to its full path in the agent's config.yaml")
        return None

    def build(self, prompt: str) -> LaunchPlan:
        raise NotImplementedError

    def build_resume(self, prompt: str, session_id: str) -> LaunchPlan | None:
        """The run of ``prompt`` continuing the CLI's conversation ``session_id``; None when
        this CLI cannot resume one (the caller then starts it fresh)."""
        return None

    def report(self, exit_code: int, log: bytes) -> RunReport:
        raise NotImplementedError

    def cost_limit_args(self, max_cost_usd: float) -> list[str] | None:
        """The CLI's own flags that stop a run at ``max_cost_usd`` (None: it has none)."""
        return None


def iter_json_lines(data: bytes) -> Iterator[dict[str, Any]]:
    """Every line of ``data`` that is a JSON object; anything else is skipped."""
    for raw in data.splitlines():
        raw = raw.strip()
        if not raw.startswith(b"{"):
            continue
        try:
            obj = json.loads(raw.decode("utf-8", errors="replace"))
        except ValueError:
            continue
        if isinstance(obj, dict):
            yield obj


def tail_text(data: bytes, lines: int = 20, limit: int = 2000) -> str:
    window = max(64 * 1024, limit * 8)
    if len(data) > window:  # a big log: decode only its end when that holds the last lines whole
        text = data[-window:].decode("utf-8", errors="replace").rstrip()
        if text.count("\n") >= lines:
            return "\n".join(text.splitlines()[-lines:])[-limit:]
    text = data.decode("utf-8", errors="replace").rstrip()
    return "\n".join(text.splitlines()[-lines:])[-limit:]


def check_conversation_id(value: str) -> str:
    """``value`` when it may go on a command line as a conversation id (it cannot pass for a
    flag); else ValueError. The payload's model checks it already: this guards other callers."""
    if not re.match(CONVERSATION_ID_PATTERN, value):
        raise ValueError(f"not a conversation id: {safe_line(value, 80)!r}")
    return value


def prompt_needs_stdin(prompt: str) -> bool:
    return prompt.startswith("-") or "\x00" in prompt or len(prompt.encode("utf-8", "replace")) > MAX_PROMPT_ARG_BYTES


#: an error line of a CLI's own output is cut to this many characters
MAX_LINE_CHARS = 300
#: the last non-empty lines of a log searched for the CLI's own error line (gemini-cli prints
#: "Unknown argument: x" above 41 lines of usage)
LAST_LINES = 60
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ERROR_LINE = re.compile(r"^\s*(?:error|fatal|unknown (?:argument|option))\b", re.I)


def safe_line(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """``text`` as one printable line: terminal escape sequences (colours, OSC titles, OSC 52
    clipboard writes) removed, every other control character shown as ``\\xNN``, at most
    ``limit`` characters (an ellipsis marks a cut). Output of a CLI run by a task is not trusted."""
    text = _ANSI.sub("", text).strip()
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def last_text_line(data: bytes, skip_json: bool = True) -> str:
    """The CLI's own last word in a log, made safe with :func:`safe_line`: among the last
    non-empty lines (JSON event lines skipped when ``skip_json``), the last that starts with
    ``error``, ``fatal`` or ``unknown argument/option`` (a usage error is followed by its usage
    text), else the last one."""
    lines = [ln for ln in tail_text(data, 200, 64 * 1024).splitlines()
             if ln.strip() and not (skip_json and ln.lstrip().startswith("{"))][-LAST_LINES:]
    for ln in reversed(lines):
        if _ERROR_LINE.match(_ANSI.sub("", ln)):
            return safe_line(ln)
    return safe_line(lines[-1]) if lines else ""


def with_line(message: str, line: str) -> str:
    """``message: line`` when there is a line, else the message alone."""
    return f"{message}: {line}" if line else message


def plan_run(runner: Runner, prompt: str, session_id: str | None = None,
             resume_prompt: str | None = None) -> tuple[LaunchPlan, bool]:
    """How to run ``prompt``: continuing the CLI's conversation ``session_id`` when there is one
    and the runner can resume it (Claude Code ``--resume``, Codex ``exec resume``), telling it
    ``resume_prompt`` when given (a parked task: "go on"); else a fresh run of ``prompt``. The
    bool says whether it resumes. ``session_id`` comes from the hub, which only keeps ids that
    cannot pass for a flag (``protocol.wire.CONVERSATION_ID_PATTERN``); each runner puts it in
    its own argv element."""
    if session_id:
        plan = runner.build_resume(resume_prompt or prompt, session_id)
        if plan is not None:
            return plan, True
    return runner.build(prompt), False
