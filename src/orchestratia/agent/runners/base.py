"""What every runner provides: an argv builder and a parser of the run's log."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Iterator

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

    def report(self, exit_code: int, log: bytes) -> RunReport:
        raise NotImplementedError


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


def prompt_needs_stdin(prompt: str) -> bool:
    return prompt.startswith("-") or "\x00" in prompt or len(prompt.encode("utf-8", "replace")) > MAX_PROMPT_ARG_BYTES
