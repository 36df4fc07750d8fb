"""``tasks watch`` of a Claude Code task: the stream-json as a transcript, from the fake
``claude``'s real output (tests/fakes/claude, faithful to /work/shared/AGENT_CLIS.md)."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from rich.console import Console

from orchestratia.cli.render.transcript import TranscriptOutput

FAKE_CLAUDE = Path(__file__).resolve().parents[4] / "tests" / "fakes" / "claude"
OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"


def fake_claude(prompt: str, cwd: Path) -> str:
    argv = [str(FAKE_CLAUDE), "-p", prompt, "--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"]
    done = subprocess.run(argv, capture_output=True, cwd=cwd, timeout=60)
    return done.stdout.decode("utf-8")


def render(text: str, chunk: int = 7) -> str:
    """The transcript of ``text`` fed in ``chunk``-character pieces (the hub's chunks split
    lines anywhere), as a terminal without colour would show it."""
    out = io.StringIO()
    transcript = TranscriptOutput(Console(file=out, width=200, highlight=False, soft_wrap=True))
    for start in range(0, len(text), chunk):
        transcript.feed(text[start:start + chunk])
    transcript.close()
    return out.getvalue()


def test_text_tool_calls_results_and_the_final_result(tmp_path: Path) -> None:
    shown = render(fake_claude("fix it FAKE_TURNS=3 FAKE_PRINT_RAW=plain-line", tmp_path))
    lines = shown.splitlines()
    assert lines[0] == "plain-line"  # not JSON: shown as text
    assert lines[1].startswith("● session started · claude-fake-1 · ") and lines[1].endswith(" · 1 tools")
    assert lines.count("→ Bash  echo turn 1") == 1 and "→ Bash  echo turn 2" in lines
    assert lines[lines.index("→ Bash  echo turn 1") + 1:][:2] == ["  ← Bash result:", "    turn 1"]
    assert "Fake claude done: fix it FAKE_TURNS=3 FAKE_PRINT_RAW=plain-line" in lines
    assert "✓ finished (success)  cost $0.0369 · 3 turns · 0.0 s · tokens 100 in · 20 out" in lines
    assert "{" not in shown  # no raw JSON left


def test_a_failed_run_shows_its_errors(tmp_path: Path) -> None:
    shown = render(fake_claude("FAKE_FAIL", tmp_path))
    assert "✗ failed (error_during_execution)" in shown


def test_agent_text_cannot_drive_the_terminal(tmp_path: Path) -> None:
    shown = render(fake_claude(f"FAKE_ECHO_PROMPT {OSC52} \x1b[2J", tmp_path))
    assert "\x1b" not in shown and "\x07" not in shown
    assert "␛]52;c;cm0gLXJmIH4=␇ ␛[2J" in shown


def test_unknown_events_are_skipped_and_the_rest_tolerated() -> None:
    lines = [
        {"type": "rate_limit_event", "rate_limit_info": {"status": "allowed"}},
        {"type": "system", "subtype": "hook_started"},
        {"type": "system", "subtype": "api_retry", "attempt": 2},
        {"type": "assistant", "message": {"content": [
            {"type": "thinking", "thinking": "a\nb\nc\nd\ne"},
            {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "/etc/hosts"}},
            {"type": "mystery"}, "not a block"]}},
        {"type": "user", "message": {"content": [
            {"type": "tool_result", "tool_use_id": "t1", "is_error": True, "content": [{"type": "text", "text": "denied"}]},
            {"type": "tool_result", "tool_use_id": "t9", "content": "\n".join(f"l{i}" for i in range(12))}]}},
        {"type": "result", "subtype": "error_max_turns", "is_error": True, "num_turns": 10,
         "errors": ["Reached maximum number of turns (10)"]},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + '\n{"no": "type"}\n[1, 2]\n{broken\n\nlast line, no newline'
    assert render(text).splitlines() == [
        "! API retry #2",
        "✻ thinking: a", "b", "c", "… (2 more lines)",
        "→ Read  /etc/hosts",
        "  ✗ Read error:", "    denied",
        "  ← tool result:", *[f"    l{i}" for i in range(8)], "    … (4 more lines)",
        "✗ failed (error_max_turns)  10 turns",
        "  - Reached maximum number of turns (10)",
        '{"no": "type"}', "[1, 2]", "{broken",
        "last line, no newline",
    ]
