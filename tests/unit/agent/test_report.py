"""The report read from a task's log: bounded memory for big logs (the head and the tail, whole
lines), the same results as parsing the whole log for the runners' streams."""

from __future__ import annotations

import json
import time
import tracemalloc
import uuid
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestratia.agent import tasks as T
from orchestratia.agent.config import config_from_dict
from orchestratia.agent.report import REPORT_HEAD, REPORT_TAIL, outcome, read_for_report
from orchestratia.agent.runners import make_runners
from orchestratia.protocol import TaskPayload

RUNNERS = make_runners(config_from_dict({"hub_url": "http://h", "shell": {"enabled": True}}))
MB = 1_000_000


def claude_line(**ev) -> bytes:
    return json.dumps(ev).encode() + b"\n"


def ended_run(tmp_path: Path, runner: str, exit_code: int | None = 0) -> T.TaskRun:
    task = TaskPayload.model_validate({"id": str(uuid.uuid4()), "title": "t", "spec": "s", "status": "assigned"})
    (tmp_path / "log").mkdir(exist_ok=True)
    (tmp_path / "run").mkdir(exist_ok=True)
    run = T.new_run(task, runner, "direct", tmp_path / "log", tmp_path / "run", None)
    run.exit = {"exit_code": exit_code, "ended_at_epoch": time.time()}
    return run


def write_big_claude_log(path: Path, filler_bytes: int) -> None:
    text = "x" * 900
    filler = claude_line(type="assistant", message={"role": "assistant", "content": [{"type": "text", "text": text}]})
    with open(path, "wb") as fh:
        fh.write(claude_line(type="system", subtype="init", session_id="sess-from-init", model="m", tools=["Bash"]))
        fh.write(filler * (filler_bytes // len(filler) + 1))
        fh.write(claude_line(type="assistant", message={"role": "assistant",
                                                        "content": [{"type": "text", "text": "last words"}]}))
        fh.write(claude_line(type="result", subtype="success", is_error=False, num_turns=7, total_cost_usd=1.25,
                             session_id="sess-1", result="All done after a very long run"))


def test_a_50_mb_log_still_yields_the_result_event_with_bounded_memory(tmp_path: Path) -> None:
    run = ended_run(tmp_path, "claude")
    write_big_claude_log(run.files.log, 50 * MB)
    size = run.files.log.stat().st_size
    assert size > 50 * MB
    tracemalloc.start()
    try:
        out = outcome(run, RUNNERS["claude"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.ok and out.exit_code == 0 and out.error == ""
    r = out.result
    assert r["exit_code"] == 0 and r["num_turns"] == 7 and r["cost_usd"] == 1.25 and r["session_id"] == "sess-1"
    assert r["summary"] == "All done after a very long run" and r["is_error"] is False
    # what was read and held is the head and the tail, not the log
    assert len(read_for_report(run.files.log)) <= REPORT_HEAD + REPORT_TAIL
    assert peak < 3 * (REPORT_HEAD + REPORT_TAIL) < size, peak


def test_a_big_failed_claude_log_reports_the_errors_of_its_last_line(tmp_path: Path) -> None:
    run = ended_run(tmp_path, "claude", exit_code=1)
    write_big_claude_log(run.files.log, 12 * MB)
    with open(run.files.log, "ab") as fh:  # a max-turns result after the success one: the last wins
        fh.write(claude_line(type="result", subtype="error_max_turns", is_error=True, num_turns=50,
                             errors=["Reached maximum number of turns (50)"]))
    out = outcome(run, RUNNERS["claude"])
    assert not out.ok and out.exit_code == 1
    assert out.error == "claude exited with status 1: Reached maximum number of turns (50)"
    assert out.result["subtype"] == "error_max_turns"


def codex_log(n: int) -> bytes:
    item = {"type": "item.completed", "item": {"type": "command_execution", "aggregated_output": "y" * 500}}
    return (claude_line(type="thread.started", thread_id="th-1") + claude_line(type="turn.started")
            + claude_line(**item) * n
            + claude_line(type="item.completed", item={"type": "agent_message", "text": "codex finished"})
            + claude_line(type="turn.completed", usage={"input_tokens": 5, "output_tokens": 6}))


def gemini_log(n: int) -> bytes:
    return (claude_line(type="init", session_id="g-1", model="gemini")
            + claude_line(type="tool_result", tool_id="t", status="success", output="z" * 500) * n
            + claude_line(type="message", role="assistant", content="gemini finished")
            + claude_line(type="result", status="success", stats={"total_tokens": 9}))


def plain_log(n: int) -> bytes:
    return b"".join(b"plain line %d %s\n" % (i, b"w" * 500) for i in range(n))


def test_big_logs_give_each_runner_the_result_of_its_whole_log(tmp_path: Path) -> None:
    n = (REPORT_HEAD + REPORT_TAIL) // 500 + 2000  # past the size that is read whole
    for name, data in (("codex", codex_log(n)), ("gemini", gemini_log(n)), ("aider", plain_log(n)),
                       ("shell", plain_log(n))):
        for code in (0, 3):
            run = ended_run(tmp_path, name, exit_code=code)
            run.files.log.write_bytes(data)
            assert len(data) > REPORT_HEAD + REPORT_TAIL
            whole = RUNNERS[name].report(code, data)
            assert RUNNERS[name].report(code, read_for_report(run.files.log)) == whole, name
            assert outcome(run, RUNNERS[name]).ok == whole.ok == (code == 0)
    run = ended_run(tmp_path, "codex")
    run.files.log.write_bytes(codex_log(n))
    r = outcome(run, RUNNERS["codex"]).result
    assert r["session_id"] == "th-1" and r["summary"] == "codex finished" and r["usage"]["output_tokens"] == 6


def test_small_logs_are_read_whole_and_a_missing_log_is_empty(tmp_path: Path) -> None:
    log = tmp_path / "small.log"
    log.write_bytes(b"no newline at all " * 1000)
    assert read_for_report(log) == log.read_bytes()
    assert read_for_report(tmp_path / "missing.log") == b""
    run = ended_run(tmp_path, "claude", exit_code=None)
    run.exit = {"exit_code": None, "error": "the task's session ended without recording an exit status"}
    out = outcome(run, RUNNERS["claude"])  # no log at all
    assert not out.ok and out.exit_code is None and out.result["exit_code"] is None
    assert out.error.startswith("the task's session ended")


def test_a_last_line_longer_than_the_tail_is_read_whole(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    last = b"{" + b"r" * 5000 + b"}\n"
    log.write_bytes(b"first\n" + b"a\n" * 5000 + last)
    got = read_for_report(log, head=64, tail=1000, tail_max=16000)  # the window doubles to 8000
    assert got.startswith(b"first\na\n") and got.endswith(b"a\n" + last) and len(got) <= 64 + 8000
    got = read_for_report(log, head=64, tail=1000, tail_max=2000)  # capped: the end of the line only
    head_lines = b"first\n" + b"a\n" * 29  # the whole lines in the first 64 bytes
    assert got == head_lines + last[-2000:]


def reference(data: bytes, head: int, tail: int, tail_max: int) -> bytes:
    """What read_for_report promises, said the plain way."""
    size = len(data)
    if size <= head + tail:
        return data
    first = data[: data[:head].rfind(b"\n") + 1]
    last_start = data.rfind(b"\n", 0, len(data.rstrip(b"\n"))) + 1  # where the last line starts
    window = tail
    while True:
        start = max(head, size - window)
        if start == head:
            return data
        if start <= last_start:  # from the first line that starts in the window
            return first + data[start if data[start - 1] == 0x0A else data.index(b"\n", start) + 1:]
        if window >= tail_max:
            return first + data[start:]
        window = min(window * 2, tail_max)


lines = st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=60)


@settings(max_examples=400, deadline=None)
@given(lines, st.booleans(), st.integers(1, 64), st.integers(1, 64), st.integers(0, 3))
def test_excerpt_is_whole_lines_from_the_start_and_the_end(tmp_path_factory, body: list[bytes], final_nl: bool,
                                                          head: int, tail: int, grow: int) -> None:
    data = b"\n".join(body) + (b"\n" if final_nl and body else b"")
    log = tmp_path_factory.mktemp("x") / "t.log"
    log.write_bytes(data)
    tail_max = tail * (1 + grow)
    assert read_for_report(log, head=head, tail=tail, tail_max=tail_max) == reference(data, head, tail, tail_max)


def test_a_stopped_or_lost_run_says_the_clis_last_line(tmp_path: Path) -> None:
    offline = (claude_line(type="thread.started", thread_id="th-9") + claude_line(type="turn.started")
               + claude_line(type="error", message="Reconnecting... waiting for network (Connection failed)"))
    run = ended_run(tmp_path, "codex", exit_code=130)
    run.files.log.write_bytes(offline)
    run.record.stop_kind, run.record.stop_reason = "timeout", "timed out after 0.1 minutes"
    out = outcome(run, RUNNERS["codex"])
    assert out.error == ("timed out after 0.1 minutes; the runner was stopped (exit status 130); codex said: "
                         "Reconnecting... waiting for network (Connection failed)")
    assert out.reason == "timeout"
    run.record.stop_kind = "cancel"  # the hub's own timeout check sent the cancel: still a timeout report
    assert outcome(run, RUNNERS["codex"]).reason == "timeout"
    run.record.stop_reason = "no longer needed"
    out = outcome(run, RUNNERS["codex"])
    assert out.reason is None and out.error.startswith("cancelled: no longer needed; the runner was stopped")
    run.record.stop_kind, run.exit = None, {"exit_code": None, "error": "the task's screen session was killed"}
    assert outcome(run, RUNNERS["codex"]).error == ("the task's screen session was killed; codex said: "
                                                    "Reconnecting... waiting for network (Connection failed)")


def test_the_report_names_the_cause_the_daemon_knows(tmp_path: Path) -> None:
    """``fail``'s ``cause`` (docs/scheduling.md, "Retries"): Claude Code's own limits, its error,
    a stop, a run whose session vanished."""
    run = ended_run(tmp_path, "claude", exit_code=1)
    for subtype, cause in (("error_max_turns", "max_turns"), ("error_max_budget_usd", "budget"),
                           ("error_during_execution", "runner_failed")):
        run.files.log.write_bytes(claude_line(type="result", subtype=subtype, is_error=True, total_cost_usd=0.5,
                                              usage={"input_tokens": 9, "output_tokens": 3}, errors=["x"]))
        out = outcome(run, RUNNERS["claude"])
        assert (out.ok, out.cause) == (False, cause)
        assert out.result["cost_usd"] == 0.5 and out.result["usage"] == {"input_tokens": 9, "output_tokens": 3}
    run.record.stop_kind, run.record.stop_reason = "timeout", "timed out after 1 minutes"
    assert outcome(run, RUNNERS["claude"]).cause == "timed_out"
    run.record.stop_kind, run.record.stop_reason = "cancel", "no longer needed"
    assert outcome(run, RUNNERS["claude"]).cause == "cancelled"
    run.record.stop_kind, run.exit = None, {"exit_code": None, "error": "the task's screen session was killed"}
    assert outcome(run, RUNNERS["claude"]).cause == "agent_lost"


def test_only_claude_has_a_cost_limit_flag() -> None:
    assert RUNNERS["claude"].cost_limit_args(2.5) == ["--max-budget-usd=2.5"]
    assert RUNNERS["shell"].cost_limit_args(2.5) is None
