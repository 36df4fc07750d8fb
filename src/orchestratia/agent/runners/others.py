"""Codex, Gemini CLI and Aider, headless, following AGENT_CLIS.md."""

from __future__ import annotations

from .base import (LaunchPlan, Runner, RunReport, check_conversation_id, iter_json_lines, last_text_line,
                   prompt_needs_stdin, safe_line, tail_text, with_line)
from .limits import codex_usage_limit

GEMINI_EXIT_CODES = {41: "authentication error", 42: "input error", 52: "configuration error",
                     53: "turn limit reached", 54: "tool error", 130: "interrupted"}


def build_codex_argv(prompt: str, binary: str = "codex", full_auto: bool = True,
                     extra_args: list[str] | None = None, resume: str | None = None) -> tuple[list[str], bytes | None]:
    """argv and stdin for ``codex exec`` (checked against codex-cli 0.171's ``exec --help``).
    ``--full-auto`` is gone from current versions (they exit 2 on it): edits are allowed by
    ``--sandbox workspace-write``. ``--skip-git-repo-check``: a task with no repo runs in a
    temporary directory, which codex otherwise refuses. The working root is the launcher's cwd
    (the repo), so no ``-C``. The prompt comes last, after ``--`` (so a prompt such as
    ``resume`` or ``-x`` stays the prompt); one that starts with ``-`` (``-`` alone means stdin),
    holds NUL or is over 64 KiB goes on stdin, named by ``-``. ``resume``: the conversation
    (``thread_id``) the run continues: ``codex exec [OPTIONS] resume ID -- PROMPT`` (the exec
    options go before the subcommand)."""
    argv = [binary, "exec", "--json", "--skip-git-repo-check"]
    if full_auto:
        argv += ["--sandbox", "workspace-write"]
    argv += list(extra_args or [])
    if resume:
        argv += ["resume", check_conversation_id(resume)]
    if prompt_needs_stdin(prompt):
        return [*argv, "--", "-"], prompt.encode("utf-8", errors="replace")
    return [*argv, "--", prompt], None


def codex_report(exit_code: int, data: bytes) -> RunReport:
    thread_id = None
    last_message = ""
    failure = ""
    last_error = ""
    usage = None
    said: list[str] = []
    for ev in iter_json_lines(data):
        t = ev.get("type")
        if t == "thread.started":
            thread_id = ev.get("thread_id") or thread_id
        elif t == "turn.failed":
            err = ev.get("error")
            failure = (err.get("message") if isinstance(err, dict) else str(err or "")) or "turn failed"
            said.append(failure)
        elif t == "turn.completed":
            usage = ev.get("usage") or usage
        elif t == "error":  # may be transient ("Reconnecting..."): only turn.failed or the exit status fail a run
            last_error = str(ev.get("message") or "error")
            said.append(last_error)
        elif t == "item.completed":
            item = ev.get("item") or {}
            if isinstance(item, dict) and item.get("type") == "agent_message":
                last_message = str(item.get("text") or last_message)
    # trust turn.failed over the exit status
    ok = exit_code == 0 and not failure
    rep = RunReport(ok=ok, summary=last_message or tail_text(data), session_id=thread_id)
    if usage:
        rep.extra["usage"] = usage
    # its own words: turn.failed, else the last error event (offline: "Reconnecting... waiting
    # for network"), else its last line on stderr (a usage error: "error: unexpected argument")
    rep.last_line = safe_line(failure or last_error) or last_text_line(data)
    if not ok and (limit := codex_usage_limit(said)) is not None:
        rep.usage_limited, rep.resets_at = True, limit.resets_at
    if not ok:
        rep.error = f"codex exited with status {exit_code}: {rep.last_line or 'see the output'}"
    return rep


def build_gemini_argv(prompt: str, binary: str = "gemini", full_auto: bool = True,
                      extra_args: list[str] | None = None) -> list[str]:
    """``--skip-trust`` with yolo: in a folder it has not been told to trust, gemini-cli 0.61
    silently turns ``--approval-mode=yolo`` back into ``default`` (tools then need a prompt that
    a headless run cannot give)."""
    argv = [binary, f"--prompt={prompt}", "--output-format", "stream-json"]
    if full_auto:
        argv += ["--approval-mode=yolo", "--skip-trust"]
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
    why = (result or {}).get("error") or "; ".join(errors)
    if isinstance(why, dict):
        why = why.get("message") or str(why)
    # no events at all (an auth error, exit 41): its own last line, "Please set an Auth method ..."
    rep.last_line = safe_line(str(why)) if why else last_text_line(data)
    if not ok:
        meaning = f" ({GEMINI_EXIT_CODES[exit_code]})" if exit_code in GEMINI_EXIT_CODES else ""
        rep.error = f"gemini exited with status {exit_code}{meaning}: {rep.last_line or 'see the output'}"
    return rep


def build_aider_argv(prompt: str, binary: str = "aider", extra_args: list[str] | None = None) -> list[str]:
    return [binary, f"--message={prompt}", "--yes-always", "--no-auto-commits", "--no-pretty", *(extra_args or [])]


def aider_report(exit_code: int, data: bytes) -> RunReport:
    rep = RunReport(ok=exit_code == 0, summary=tail_text(data), last_line=last_text_line(data, skip_json=False))
    if not rep.ok:
        rep.error = with_line(f"aider exited with status {exit_code}", rep.last_line)
    return rep


class CodexRunner(Runner):
    name = "codex"

    def build(self, prompt: str) -> LaunchPlan:
        argv, stdin = build_codex_argv(prompt, self.find_binary() or self.binary, self.section.full_auto,
                                       self.section.extra_args)
        return LaunchPlan(argv=argv, stdin_data=stdin)

    def build_resume(self, prompt: str, session_id: str) -> LaunchPlan | None:
        argv, stdin = build_codex_argv(prompt, self.find_binary() or self.binary, self.section.full_auto,
                                       self.section.extra_args, resume=session_id)
        return LaunchPlan(argv=argv, stdin_data=stdin)

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
