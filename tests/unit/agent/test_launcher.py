"""launcher.py for real: the fake claude in a subprocess, real exit statuses, an unbuffered log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from orchestratia.agent.launcher import clean_env, exit_status

from .agent_helpers import FAKE_CLAUDE, LAUNCHER, PY, claude_argv, read_exit, wait_for, write_spec


def start(spec: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen([PY, str(LAUNCHER), str(spec)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_exit_status_mapping() -> None:
    assert exit_status(0) == (0, None) and exit_status(3) == (3, None)
    assert exit_status(-15) == (143, 15) and exit_status(-9) == (137, 9)


def test_clean_env_strips_orchestratia_secrets() -> None:
    env = clean_env({"PATH": "/bin", "ORCHESTRATIA_API_KEY": "orc_x", "ORCHESTRATIA_TOKEN": "t", "HOME": "/h"})
    assert env == {"PATH": "/bin", "HOME": "/h"}


def test_success_log_terminal_and_exit_file(dirs, task_id) -> None:
    spec = write_spec(dirs, task_id, claude_argv("hello FAKE_LINES=3 FAKE_UNICODE"))
    proc = start(spec)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    log = (dirs["log"] / f"task-{task_id}.log").read_bytes()
    assert log == out  # the terminal got exactly what the log got
    assert b'"line 3 of 3"' in log and "日本".encode() in log and b'"type": "result"' in log
    ex = read_exit(dirs, task_id)
    assert ex["exit_code"] == 0 and ex["signal"] is None and ex["ended_at"]
    pid = int((dirs["run"] / f"task-{task_id}.pid").read_text())
    assert pid == ex["pid"]


def test_failure_exit_status_is_real(dirs, task_id) -> None:
    spec = write_spec(dirs, task_id, claude_argv("FAKE_FAIL FAKE_STDERR=oops"))
    proc = start(spec)
    proc.communicate(timeout=20)
    assert read_exit(dirs, task_id)["exit_code"] == 1
    log = (dirs["log"] / f"task-{task_id}.log").read_bytes()
    assert b"oops" in log  # stderr is logged too


def test_log_is_written_while_the_runner_still_runs(dirs, task_id) -> None:
    spec = write_spec(dirs, task_id, claude_argv("FAKE_LINES=1 FAKE_SLEEP=30"))
    proc = start(spec)
    log = dirs["log"] / f"task-{task_id}.log"
    try:
        wait_for(lambda: log.exists() and b'"line 1 of 1"' in log.read_bytes(), 10, what="the line in the log")
        assert read_exit(dirs, task_id) is None and proc.poll() is None
        pid = int(wait_for(lambda: (dirs["run"] / f"task-{task_id}.pid").exists() and
                           (dirs["run"] / f"task-{task_id}.pid").read_text()))
        os.killpg(pid, signal.SIGTERM)
        proc.communicate(timeout=10)
        ex = read_exit(dirs, task_id)
        assert ex["exit_code"] == 143
        assert b'"type": "result"' not in log.read_bytes()  # SIGTERM: no result line
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sigint_ends_cleanly_with_a_result(dirs, task_id) -> None:
    spec = write_spec(dirs, task_id, claude_argv("FAKE_LINES=1 FAKE_SLEEP=30"))
    proc = start(spec)
    log = dirs["log"] / f"task-{task_id}.log"
    wait_for(lambda: log.exists() and b"line 1" in log.read_bytes(), 10, what="output")
    pid = int((dirs["run"] / f"task-{task_id}.pid").read_text())
    os.killpg(pid, signal.SIGINT)
    proc.communicate(timeout=10)
    assert read_exit(dirs, task_id)["exit_code"] == 130
    last = json.loads(log.read_bytes().splitlines()[-1])
    assert last["type"] == "result" and last["is_error"] is True


def test_signal_to_the_launcher_is_forwarded(dirs, task_id) -> None:
    spec = write_spec(dirs, task_id, claude_argv("FAKE_LINES=1 FAKE_SLEEP=30"))
    proc = start(spec)
    log = dirs["log"] / f"task-{task_id}.log"
    wait_for(lambda: log.exists() and b"line 1" in log.read_bytes(), 10, what="output")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)
    assert read_exit(dirs, task_id)["exit_code"] == 143


def test_missing_binary_and_stdin_prompt_and_env(dirs, task_id, monkeypatch) -> None:
    spec = write_spec(dirs, task_id, ["/nonexistent/claude", "-p", "x"])
    start(spec).communicate(timeout=10)
    assert read_exit(dirs, task_id)["exit_code"] == 127
    assert b"cannot start" in (dirs["log"] / f"task-{task_id}.log").read_bytes()

    tid = task_id + "-2"
    env = {"PATH": os.environ["PATH"], "ORCHESTRATIA_API_KEY": "orc_secret"}
    spec = write_spec(dirs, tid, [str(FAKE_CLAUDE), "-p", "--output-format", "stream-json", "--verbose"],
                      stdin_data=b"-dash prompt FAKE_ECHO_ENV=ORCHESTRATIA_API_KEY FAKE_ECHO_PROMPT", env=env)
    start(spec).communicate(timeout=20)
    assert read_exit(dirs, tid)["exit_code"] == 0
    log = (dirs["log"] / f"task-{tid}.log").read_bytes()
    assert b"env ORCHESTRATIA_API_KEY=(unset)" in log and b"orc_secret" not in log
    assert b'"text": "-dash prompt FAKE_ECHO_ENV' in log


def test_invalid_utf8_is_logged_raw(dirs, task_id) -> None:
    spec = write_spec(dirs, task_id, claude_argv("FAKE_INVALID_UTF8"))
    start(spec).communicate(timeout=20)
    assert b"\xff\xfe\xc3(" in (dirs["log"] / f"task-{task_id}.log").read_bytes()
