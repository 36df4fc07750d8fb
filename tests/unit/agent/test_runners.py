"""Runners: argv building (prompt placement, quoting) and result parsing of real fake-CLI output."""

from __future__ import annotations

import json
import subprocess

import pytest

from orchestratia.agent.config import config_from_dict
from orchestratia.agent.runners import build_claude_argv, claude_report, make_runners, parse_stream_json
from orchestratia.agent.runners.base import MAX_PROMPT_ARG_BYTES, SCRIPT_PLACEHOLDER
from orchestratia.agent.runners.others import (
    aider_report,
    build_aider_argv,
    build_codex_argv,
    build_gemini_argv,
    codex_report,
    gemini_report,
)

from .agent_helpers import FAKE_CLAUDE


def run_fake(argv: list[str], stdin: bytes | None = None, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=stdin if stdin is not None else b"", capture_output=True, timeout=timeout)


def test_claude_argv_prompt_right_after_p() -> None:
    argv, stdin = build_claude_argv("fix the bug", binary="claude", allowed_tools="Bash,Read", max_turns=7)
    assert argv[:3] == ["claude", "-p", "fix the bug"]
    assert stdin is None
    assert "--output-format" in argv and argv[argv.index("--output-format") + 1] == "stream-json"
    assert "--verbose" in argv
    assert "--allowedTools=Bash,Read" in argv and "--max-turns=7" in argv
    # nothing list-valued precedes the prompt
    assert argv.index("fix the bug") < argv.index("--allowedTools=Bash,Read")


@pytest.mark.parametrize("prompt", ["-rf everything", "--help me", "a\x00b", "x" * (MAX_PROMPT_ARG_BYTES + 1)])
def test_claude_prompt_goes_to_stdin_when_it_must(prompt: str) -> None:
    argv, stdin = build_claude_argv(prompt)
    assert prompt not in argv
    assert stdin == prompt.encode()
    assert argv[:2] == ["claude", "-p"] and argv[2].startswith("--")


PROMPTS = [
    'say "hi" and it\'s $HOME `id` $(rm -rf /) FAKE_ECHO_PROMPT',
    "line one\nline two\n\ttabbed \\ backslash FAKE_ECHO_PROMPT",
    "-starts with a dash; FAKE_ECHO_PROMPT",
    "unicode é 日本 🎉 FAKE_ECHO_PROMPT",
]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_fake_claude_receives_the_prompt_verbatim(prompt: str) -> None:
    argv, stdin = build_claude_argv(prompt, binary=str(FAKE_CLAUDE), allowed_tools="Bash,Read", max_turns=5)
    proc = run_fake(argv, stdin)
    assert proc.returncode == 0, proc.stderr
    s = parse_stream_json(proc.stdout)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    first_text = next(e for e in events if e["type"] == "assistant")["message"]["content"][0]["text"]
    assert first_text == prompt
    assert s.result_event is not None and s.result_event["is_error"] is False


def test_report_success_with_cost_turns_session() -> None:
    argv, stdin = build_claude_argv("do it FAKE_TURNS=3 FAKE_LINES=2", binary=str(FAKE_CLAUDE), allowed_tools="Bash",
                                    max_turns=10)
    proc = run_fake(argv, stdin)
    rep = claude_report(proc.returncode, proc.stdout)
    assert rep.ok and rep.error == ""
    assert rep.num_turns == 3 and rep.cost_usd == pytest.approx(0.0369)
    assert rep.session_id and rep.summary.startswith("Fake claude done: do it")
    result = rep.result(proc.returncode, 1.5)
    assert result["exit_code"] == 0 and result["duration_s"] == 1.5 and result["session_id"] == rep.session_id


def test_report_max_turns() -> None:
    argv, stdin = build_claude_argv("FAKE_TURNS=5", binary=str(FAKE_CLAUDE), allowed_tools="Bash", max_turns=2)
    proc = run_fake(argv, stdin)
    assert proc.returncode == 1
    rep = claude_report(proc.returncode, proc.stdout)
    assert not rep.ok and "Reached maximum number of turns (2)" in rep.error
    assert rep.extra["subtype"] == "error_max_turns"
    assert "result" not in parse_stream_json(proc.stdout).result_event


def test_report_api_error_with_subtype_success_is_a_failure() -> None:
    # exit 0 forced: is_error alone must make it a failure, whatever the subtype says
    argv, stdin = build_claude_argv("FAKE_API_ERROR FAKE_EXIT=0", binary=str(FAKE_CLAUDE))
    proc = run_fake(argv, stdin)
    assert proc.returncode == 0
    rep = claude_report(proc.returncode, proc.stdout)
    assert not rep.ok and rep.extra["subtype"] == "success" and rep.extra["api_error_status"] == 500
    assert "API Error" in rep.error


def test_report_never_judges_by_words() -> None:
    argv, stdin = build_claude_argv("print error failed FAKE_PRINT_RAW=\"Error: failed\"", binary=str(FAKE_CLAUDE))
    proc = run_fake(argv, stdin)
    assert claude_report(proc.returncode, proc.stdout).ok


def test_nonzero_exit_with_clean_result_is_failure() -> None:
    argv, stdin = build_claude_argv("FAKE_EXIT=3", binary=str(FAKE_CLAUDE))
    proc = run_fake(argv, stdin)
    rep = claude_report(proc.returncode, proc.stdout)
    assert proc.returncode == 3 and not rep.ok and "status 3" in rep.error


def test_stream_reader_skips_junk_and_unknown_events() -> None:
    data = b"\n".join([
        b"not json at all",
        b"\xff\xfe binary junk",
        b'{"type":"system","subtype":"hook_started"}',
        b'{"type":"system","subtype":"init","session_id":"s-1","model":"m"}',
        b'[1, 2, 3]',
        b'{"type":"brand_new_event","x":1}',
        b'{"type":"assistant","message":{"content":[{"type":"thinking","thinking":"hm"},{"type":"text","text":"hello"}]}}',
        b'{"type":"rate_limit_event"}',
        b'{"type":"result","subtype":"success","is_error":false,"num_turns":2,"total_cost_usd":0.5,"result":"done"}',
        b'{"truncated": ',
    ])
    s = parse_stream_json(data)
    assert s.session_id == "s-1" and s.unknown == 1 and s.last_text == "hello"
    rep = claude_report(0, data)
    assert rep.ok and rep.summary == "done" and rep.num_turns == 2 and rep.cost_usd == 0.5


def test_no_result_event() -> None:
    rep = claude_report(143, b'{"type":"system","subtype":"init","session_id":"s"}\n')
    assert not rep.ok and "143" in rep.error and rep.session_id == "s"


def test_fake_claude_cli_rules() -> None:
    p = run_fake([str(FAKE_CLAUDE), "-p", "x", "--output-format", "stream-json"])
    assert p.returncode == 1 and p.stdout == b""
    assert p.stderr.decode().strip() == "Error: When using --print, --output-format=stream-json requires --verbose"
    p = run_fake([str(FAKE_CLAUDE), "-p", "x", "--bogus"])
    assert p.returncode == 1 and b"unknown option" in p.stderr and p.stdout == b""
    p = run_fake([str(FAKE_CLAUDE), "-p", "x", "--session-id", "nope"])
    assert p.returncode == 1
    # a prompt after a list flag is swallowed (as with the real CLI): no prompt left
    p = run_fake([str(FAKE_CLAUDE), "-p", "--allowedTools", "Bash", "Read", "the prompt"])
    assert p.returncode == 1 and b"Input must be provided" in p.stderr
    p = run_fake([str(FAKE_CLAUDE), "-p", "hello", "--output-format", "json"])
    assert p.returncode == 0 and json.loads(p.stdout)["type"] == "result"
    p = run_fake([str(FAKE_CLAUDE), "-p", "hello", "--output-format", "json", "--verbose"])
    body = json.loads(p.stdout)
    assert isinstance(body, list) and body[0]["subtype"] == "init" and body[-1]["type"] == "result"
    p = run_fake([str(FAKE_CLAUDE), "-p", "hello", "--allowed-tools", "Bash,Read", "--permission-mode", "plan",
                  "--mcp-config", '{"mcpServers": {"orc": {"command": "x"}}}', "--output-format=stream-json",
                  "--verbose"])
    init = json.loads(p.stdout.splitlines()[0])
    assert init["tools"] == ["Bash", "Read"] and init["permissionMode"] == "plan"
    assert init["mcp_servers"] == [{"name": "orc", "status": "connected"}]
    p = run_fake([str(FAKE_CLAUDE), "-p", "hello"])
    assert p.stdout.decode().startswith("Fake claude done: hello")


def test_codex_gemini_aider_argv() -> None:
    assert build_codex_argv("x do", "codex") == (["codex", "exec", "--json", "--skip-git-repo-check", "--sandbox",
                                                  "workspace-write", "--", "x do"], None)
    assert build_codex_argv("-x do", "codex", full_auto=False) == (
        ["codex", "exec", "--json", "--skip-git-repo-check", "--", "-"], b"-x do")  # stdin, named by '-'
    assert build_gemini_argv("-x do", "gemini")[:2] == ["gemini", "--prompt=-x do"]
    assert "--output-format" in build_gemini_argv("p")
    assert build_aider_argv("-x", "aider") == ["aider", "--message=-x", "--yes-always", "--no-auto-commits",
                                               "--no-pretty"]


def test_codex_trusts_turn_failed_over_exit_status() -> None:
    ok = b"\n".join([b'{"type":"thread.started","thread_id":"th-1"}', b'{"type":"turn.started"}',
                     b'{"type":"item.completed","item":{"type":"agent_message","text":"all done"}}',
                     b'{"type":"turn.completed","usage":{"input_tokens":3}}'])
    rep = codex_report(0, ok)
    assert rep.ok and rep.session_id == "th-1" and rep.summary == "all done"
    bad = ok + b'\n{"type":"turn.failed","error":{"message":"model overloaded"}}'
    rep = codex_report(0, bad)
    assert not rep.ok and "model overloaded" in rep.error


def test_codex_transient_error_event_does_not_fail_a_finished_run() -> None:
    data = b"\n".join([b'{"type":"thread.started","thread_id":"th-2"}', b'{"type":"turn.started"}',
                       b'{"type":"error","message":"Reconnecting... 1/5"}',
                       b'{"type":"item.completed","item":{"type":"agent_message","text":"done after all"}}',
                       b'{"type":"turn.completed","usage":{"input_tokens":3}}'])
    rep = codex_report(0, data)
    assert rep.ok and rep.summary == "done after all"
    rep = codex_report(1, data.rsplit(b"\n", 2)[0])  # it gave up: the exit status fails it, the error says why
    assert not rep.ok and "Reconnecting... 1/5" in rep.error


def test_gemini_and_aider_reports() -> None:
    data = b"\n".join([b'{"type":"init","session_id":"g-1","model":"gemini"}',
                       b'{"type":"message","role":"assistant","content":"Hel","delta":true}',
                       b'{"type":"message","role":"assistant","content":"lo","delta":true}',
                       b'{"type":"result","status":"success","stats":{"turns":1}}'])
    rep = gemini_report(0, data)
    assert rep.ok and rep.summary == "Hello" and rep.session_id == "g-1"
    rep = gemini_report(53, b'{"type":"result","status":"error"}')
    assert not rep.ok and "turn limit" in rep.error
    assert aider_report(0, b"Applied edit\n").ok and not aider_report(2, b"").ok


def test_runner_availability_messages(tmp_path) -> None:
    cfg = config_from_dict({"hub_url": "http://h", "claude": {"binary": str(tmp_path / "no-claude")},
                            "codex": {"binary": "definitely-not-on-path-xyz"}})
    runners = make_runners(cfg)
    assert "not found" in runners["claude"].unavailable_reason() and "claude.binary" in runners["claude"].unavailable_reason()
    assert "PATH" in runners["codex"].unavailable_reason()
    assert "not enabled" in runners["shell"].unavailable_reason() and "shell.enabled" in runners["shell"].unavailable_reason()
    cfg = config_from_dict({"hub_url": "http://h", "shell": {"enabled": True}, "claude": {"binary": str(FAKE_CLAUDE)}})
    runners = make_runners(cfg)
    assert runners["shell"].unavailable_reason() is None and runners["claude"].unavailable_reason() is None
    plan = runners["shell"].build("echo hi")
    assert plan.script == "echo hi" and plan.argv[-1] == SCRIPT_PLACEHOLDER


@pytest.mark.parametrize("name", ["codex", "gemini", "aider"])
def test_other_runners_against_their_fakes(name, tmp_path) -> None:
    fake = str(FAKE_CLAUDE.parent / name)
    runner = make_runners(config_from_dict({"hub_url": "http://h", name: {"binary": fake}}))[name]
    assert runner.unavailable_reason() is None
    plan = runner.build("-leading dash, \"quotes\"\nnewline")
    proc = run_fake(plan.argv, plan.stdin_data)
    rep = runner.report(proc.returncode, proc.stdout)
    assert rep.ok, (proc.stdout, proc.stderr)
    assert "leading dash" in rep.summary
    if name != "aider":
        assert rep.session_id
        plan = runner.build("FAKE_FAIL")
        proc = run_fake(plan.argv)
        rep = runner.report(proc.returncode, proc.stdout)
        assert not rep.ok and "fake failure requested" in rep.error


def test_a_failed_run_says_the_clis_own_last_error_line() -> None:
    usage = (b"WARNING: proceeding\nerror: unexpected argument '--full-auto' found\n\n  tip: to pass '--full-auto' as a "
             b"value, use '-- --full-auto'\n\nUsage: codex exec [OPTIONS] [PROMPT]\n\nFor more information, try '--help'.\n")
    assert codex_report(2, usage).error == "codex exited with status 2: error: unexpected argument '--full-auto' found"
    offline = b"\n".join([b'{"type":"thread.started","thread_id":"t"}', b'{"type":"turn.started"}',
                          b'{"type":"error","message":"Reconnecting... waiting for network (Connection failed)"}',
                          b"2026-12-06T02:32:12Z ERROR codex_api: failed to connect"])
    assert codex_report(130, offline).last_line == "Reconnecting... waiting for network (Connection failed)"
    auth = (b"YOLO mode is enabled.\nPlease set an Auth method in your ~/.gemini/settings.json or specify "
            b"GEMINI_API_KEY\n")
    assert gemini_report(41, auth).error == ("gemini exited with status 41 (authentication error): Please set an Auth "
                                             "method in your ~/.gemini/settings.json or specify GEMINI_API_KEY")
    assert "Unknown argument: bogus" in gemini_report(1, b"Unknown argument: bogus\nUsage: gemini\n" + b"  -x\n" * 40).error
    claude = b"\n".join([b'{"type":"system","subtype":"init","session_id":"s"}',
                         b'{"type":"result","subtype":"success","is_error":true,"result":"Not logged in \xc2\xb7 Please '
                         b'run /login","session_id":"s"}'])
    assert claude_report(1, claude).error == "claude exited with status 1: Not logged in \u00b7 Please run /login"
    assert claude_report(1, b"error: unknown option '--bogus'\n").error.endswith("error: unknown option '--bogus'")
    assert aider_report(1, b"Model gpt-4 not found\n").error == "aider exited with status 1: Model gpt-4 not found"


def test_the_last_line_is_one_bounded_line_with_no_terminal_escapes() -> None:
    hostile = b"error: \x1b]52;c;aGVsbG8=\x07\x1b]0;owned\x07\x1b[2J\x1b[31mred\x1b[0m bell\x07 nul\x00 " + b"x" * 1000
    rep = aider_report(1, hostile + b"\n")
    line = rep.error.split(": ", 1)[1]
    assert "\x1b" not in line and "\x07" not in rep.error and "\x00" not in rep.error
    assert line.startswith("error: red bell\\x07 nul\\x00 xxx") and len(line) <= 300 and line.endswith("\u2026")
    claude = b'{"type":"result","is_error":true,"result":"line one\\nline two \\u001b[2J"}'
    assert claude_report(1, claude).error == "claude exited with status 1: line one\\x0aline two"


SESSION = "4f6c1a52-8f7e-4b61-9d0a-2b6c0c1d9e11"


def test_plan_run_resumes_claude_and_codex_and_starts_others_fresh() -> None:
    from orchestratia.agent.runners import plan_run

    runners = make_runners(config_from_dict({"hub_url": "http://h", "agent_name": "a",
                                              "claude": {"binary": str(FAKE_CLAUDE)}}))
    plan, resumed = plan_run(runners["claude"], "go on", SESSION)
    assert resumed and plan.argv[1:3] == ["-p", "go on"]
    assert plan.argv[plan.argv.index("--resume") + 1] == SESSION
    proc = run_fake(plan.argv, plan.stdin_data)  # the fake accepts it and continues that session
    assert proc.returncode == 0 and parse_stream_json(proc.stdout).session_id == SESSION
    plan, resumed = plan_run(runners["codex"], "-starts with a dash", "thread-1")
    assert resumed and plan.argv[-4:] == ["resume", "thread-1", "--", "-"] and plan.stdin_data == b"-starts with a dash"
    plan, resumed = plan_run(runners["gemini"], "go on", SESSION)
    assert not resumed and "--resume" not in plan.argv
    plan, resumed = plan_run(runners["claude"], "go on", None)
    assert not resumed and "--resume" not in plan.argv
    with pytest.raises(ValueError):
        plan_run(runners["claude"], "go on", "--dangerously-skip-permissions")
