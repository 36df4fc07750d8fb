"""``tasks watch``'s renderer per task: the transcript for Claude Code only, raw on request."""

from __future__ import annotations

from orchestratia.cli.render.stream import PlainOutput, RawOutput, for_task
from orchestratia.cli.render.transcript import TranscriptOutput


def test_the_renderer_follows_the_runner_like_the_dashboard() -> None:
    assert isinstance(for_task({"runner": "claude"}), TranscriptOutput)
    for runner in ("shell", "codex", "gemini", "aider", None):
        assert isinstance(for_task({"runner": runner}), PlainOutput)
    assert isinstance(for_task({"runner": "claude"}, raw=True), RawOutput)


def test_raw_is_byte_for_byte_and_plain_is_safe(capsys) -> None:
    hostile = "\x1b[32mok\x1b[0m\x1b]52;c;eA==\x07\x1b[2J"
    raw, plain = RawOutput(), PlainOutput()
    raw.feed(hostile)
    raw.close()
    assert capsys.readouterr().out == hostile
    plain.feed(hostile[:3])
    plain.feed(hostile[3:])
    plain.close()
    assert capsys.readouterr().out == "\x1b[32mok\x1b[0m␛]52;c;eA==␇␛[2J"
