"""Codex, Gemini CLI and Aider, headless, following AGENT_CLIS.md."""

from __future__ import annotations

from .base import LaunchPlan, Runner, RunReport, iter_json_lines, tail_text

GEMINI_EXIT_CODES = {41: "authentication error", 42: "input error", 52: "configuration error",
                     53: "turn limit reached", 54: "tool error", 130: "interrupted"}


def build_codex_argv(prompt: str, binary: str = "codex", full_auto: bool = True,
                     extra_args: list[str] | None = None) -> list[str]:
    argv = [binary, "exec", "--json"]
    if full_auto:
        argv.append("--full-auto")
    # `--` ends the options: a prompt starting with '-' stays the prompt
    return [*argv, *(extra_args or []), "--", prompt]


def codex_report(exit_code: int, data: bytes) -> RunReport:
    thread_id = None
    last_message = ""
    failure = ""
    last_error = ""
    usage = None
    for ev in iter_json_lines(data):
        t = ev.get("type")
        if t == "thread.started":
            thread_id = ev.get("thread_id") or thread_id
        elif t == "turn.failed":
            err = ev.get("error")
            failure = (err.get("message") if isinstance(err, dict) else str(err or "")) or "turn failed"
        elif t == "turn.completed":
            usage = ev.get("usage") or usage
        elif t == "error":  # may be transient ("Reconnecting..."): only turn.failed or the exit status fail a run
            last_error = str(ev.get("message") or "error")
        elif t == "item.completed":
            item = ev.get("item") or {}
            if isinstance(item, dict) and item.get("type") == "agent_message":
                last_message = str(item.get("text") or last_message)
    # trust turn.failed over the exit status
    ok = exit_code == 0 and not failure
    rep = RunReport(ok=ok, summary=last_message or tail_text(data), session_id=thread_id)
    if usage:
        rep.extra["usage"] = usage
    if not ok:
        rep.error = f"codex exited with status {exit_code}: {failure or last_error or 'see the output'}"
    return rep


def build_gemini_argv(prompt: str, binary: str = "gemini", full_auto: bool = True,
                      extra_args: list[str] | None = None) -> list[str]:
    argv = [binary, f"--prompt={prompt}", "--output-format", "stream-json"]
    if full_auto:
        argv.append("--approval-mode=yolo")
    return argv + list(extra_args or [])


def gemini_report(exit_code: int, data: bytes) -> RunReport:
    session_id = None
    text = ""
    result = None
    errors: list[str] = []
    for ev in iter_json_lines(data):
        t = ev.get("type")
        if t == "init":
            session_id = ev.get("session_id") or session_id
        elif t == "message" and ev.get("role") == "assistant":
            content = str(ev.get("content") or "")
            text = text + content if ev.get("delta") else content
        elif t == "error":
            errors.append(str(ev.get("message") or "error"))
        elif t == "result":
            result = ev
    status = (result or {}).get("status")
    ok = exit_code == 0 and (result is None or status == "success")
    rep = RunReport(ok=ok, summary=text or tail_text(data), session_id=session_id)
    if result and result.get("stats"):
        rep.extra["stats"] = result["stats"]
    if not ok:
        why = (result or {}).get("error") or "; ".join(errors) or GEMINI_EXIT_CODES.get(exit_code) or "see the output"
        if isinstance(why, dict):
            why = why.get("message") or str(why)
        rep.error = f"gemini exited with status {exit_code}: {why}"
    return rep


def build_aider_argv(prompt: str, binary: str = "aider", extra_args: list[str] | None = None) -> list[str]:
    return [binary, f"--message={prompt}", "--yes-always", "--no-auto-commits", "--no-pretty", *(extra_args or [])]


def aider_report(exit_code: int, data: bytes) -> RunReport:
    rep = RunReport(ok=exit_code == 0, summary=tail_text(data))
    if not rep.ok:
        rep.error = f"aider exited with status {exit_code}"
    return rep


class CodexRunner(Runner):
    name = "codex"

    def build(self, prompt: str) -> LaunchPlan:
        return LaunchPlan(argv=build_codex_argv(prompt, self.find_binary() or self.binary, self.section.full_auto,
                                                self.section.extra_args))

    def report(self, exit_code: int, log: bytes) -> RunReport:
        return codex_report(exit_code, log)


class GeminiRunner(Runner):
    name = "gemini"

    def build(self, prompt: str) -> LaunchPlan:
        return LaunchPlan(argv=build_gemini_argv(prompt, self.find_binary() or self.binary, self.section.full_auto,
                                                 self.section.extra_args))

    def report(self, exit_code: int, log: bytes) -> RunReport:
        return gemini_report(exit_code, log)


class AiderRunner(Runner):
    name = "aider"

    def build(self, prompt: str) -> LaunchPlan:
        return LaunchPlan(argv=build_aider_argv(prompt, self.find_binary() or self.binary, self.section.extra_args))

    def report(self, exit_code: int, log: bytes) -> RunReport:
        return aider_report(exit_code, log)
