"""Runners: how to run one task with one agent CLI, and how to read its result."""

from __future__ import annotations

from typing import Any

from .base import SCRIPT_PLACEHOLDER, LaunchPlan, Runner, RunReport, plan_run
from .claude import ClaudeRunner, build_claude_argv, claude_report, parse_stream_json
from .others import AiderRunner, CodexRunner, GeminiRunner
from .shell import ShellRunner

RUNNER_CLASSES: dict[str, type[Runner]] = {
    "claude": ClaudeRunner,
    "codex": CodexRunner,
    "gemini": GeminiRunner,
    "aider": AiderRunner,
    "shell": ShellRunner,
}

__all__ = ["LaunchPlan", "Runner", "plan_run", "RunReport", "SCRIPT_PLACEHOLDER", "RUNNER_CLASSES", "make_runners",
           "build_claude_argv", "claude_report", "parse_stream_json"]


def make_runners(config: Any) -> dict[str, Runner]:
    """One runner per name, configured from the matching config section."""
    return {name: cls(config.runner_section(name)) for name, cls in RUNNER_CLASSES.items()}


def available_runners(runners: dict[str, Runner]) -> list[str]:
    return [name for name, r in runners.items() if r.unavailable_reason() is None]
