"""Usage limits read from a CLI's own output (runners/limits.py), through the runners' report
parsers and the fake claude: the daemon reports ``fail`` with ``reason: usage_limit`` and when
the limit resets; anything else (a 429 the CLI retries, a successful run) is no limit."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timezone

from orchestratia.agent.runners import build_claude_argv, claude_report
from orchestratia.agent.runners.limits import claude_usage_limit, codex_usage_limit, next_clock_time
from orchestratia.agent.runners.others import codex_report

from .agent_helpers import FAKE_CLAUDE


def fake_run(prompt: str) -> tuple[int, bytes]:
    argv, stdin = build_claude_argv(prompt, binary=str(FAKE_CLAUDE))
    proc = subprocess.run(argv, input=stdin or b"", capture_output=True, timeout=30)
    return proc.returncode, proc.stdout + proc.stderr


def test_the_fake_claudes_rejected_rate_limit_event_gives_the_reset() -> None:
    before = time.time()
    code, out = fake_run("go FAKE_RATE_LIMIT=120")
    rep = claude_report(code, out)
    assert not rep.ok and rep.usage_limited and rep.extra["rate_limit_type"] == "five_hour"
    assert before + 115 <= (rep.resets_at or 0) <= time.time() + 125
    assert "hit your limit" in rep.error
    code, out = fake_run("go FAKE_RATE_LIMIT_OLD")  # the older text, no event
    rep = claude_report(code, out)
    assert rep.usage_limited and abs((rep.resets_at or 0) - (time.time() + 60)) < 10


def test_a_rate_limit_event_inside_another_line_still_counts() -> None:
    event = {"type": "rate_limit_event", "rate_limit_info": {"status": "rejected", "resetsAt": 1893456000}}
    data = b'{"type":"assistant","message":{"content":[' + json.dumps(event).encode() + b'\n'
    assert claude_usage_limit(data, "").resets_at == 1893456000.0


def test_no_limit_when_allowed_retried_or_successful() -> None:
    allowed = json.dumps({"type": "rate_limit_event", "rate_limit_info": {"status": "allowed_warning",
                                                                          "resetsAt": 1893456000}}).encode()
    assert claude_usage_limit(allowed, "API Error: 500") is None
    code, out = fake_run("all fine")
    assert claude_report(code, out + b"\n" + allowed).usage_limited is False
    retried = b'{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"error_status":429}\n'
    assert claude_usage_limit(retried, "Request failed: 429 rate_limit_error") is None


def test_the_reset_clock_time_in_its_zone() -> None:
    now = datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc).timestamp()  # 11:00 in Paris
    at = next_clock_time(7, 0, "pm", "Europe/Paris", now)
    assert datetime.fromtimestamp(at or 0, timezone.utc) == datetime(2026, 12, 6, 18, 0, tzinfo=timezone.utc)
    at = next_clock_time(9, 30, "am", "Nowhere/Else", now)  # unknown zone: UTC, so tomorrow
    assert datetime.fromtimestamp(at or 0, timezone.utc) == datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)
    limit = claude_usage_limit(b"", "You've hit your limit \u00b7 resets 7pm (Europe/Paris)", now)
    assert limit is not None and limit.resets_at == next_clock_time(7, 0, "pm", "Europe/Paris", now)


def test_codex_usage_limit_reached() -> None:
    message = ('stream error: unexpected status 429: {"error":{"type":"usage_limit_reached",'
               '"message":"The usage limit has been reached","resets_at":1893456000,"resets_in_seconds":300}}')
    lines = [{"type": "thread.started", "thread_id": "t-1"}, {"type": "error", "message": message},
             {"type": "turn.failed", "error": {"message": message}}]
    rep = codex_report(1, "\n".join(json.dumps(x) for x in lines).encode())
    assert rep.usage_limited and rep.resets_at == 1893456000.0 and rep.session_id == "t-1"
    assert codex_usage_limit(['{"type":"usage_limit_reached","resets_in_seconds":60}'], now=100.0).resets_at == 160.0
    reconnect = [{"type": "error", "message": "Reconnecting... 1/5"}]
    assert codex_report(0, json.dumps(reconnect[0]).encode()).usage_limited is False
