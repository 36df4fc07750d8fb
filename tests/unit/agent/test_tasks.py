"""A task's record on disk and its process: a restarted daemon reads the record back (also one
written by an earlier daemon), and a pid from before a reboot is not taken for the runner."""

from __future__ import annotations

import json
import signal

from orchestratia.agent import tasks as T

from .agent_helpers import launch_task, new_task, read_exit, wait_for


def test_adopted_run_from_state_file(dirs, task_id, cleanup_sessions) -> None:
    run, backend = launch_task("screen", dirs, task_id, "FAKE_SLEEP=30", cleanup_sessions)
    wait_for(lambda: run.runner_alive(), 10, what="the runner")
    again = T.TaskRun.load(run.files.state, dirs["log"], dirs["run"])
    assert again.id == task_id and again.session == run.session and again.runner_pid() == run.runner_pid()
    assert again.runner_alive() and again.read_exit() is None
    again.signal(signal.SIGKILL)
    assert wait_for(lambda: read_exit(dirs, task_id), 10, what="exit")["exit_code"] == 137
    run.files.cleanup()
    assert not run.files.state.exists() and run.files.log.exists()


def test_a_pid_from_before_a_reboot_is_not_alive(dirs, task_id) -> None:
    import subprocess

    import psutil

    sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        run = T.new_run(new_task(task_id), "claude", "direct", dirs["log"], dirs["run"], None)
        run.files.pid.write_text(f"{sleeper.pid}\n")
        assert run.runner_alive()
        run.record.started_at = psutil.boot_time() - 3600  # the task started before the machine booted
        assert not run.runner_alive()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_record_written_by_an_earlier_daemon_is_adopted_and_written_back_the_same(dirs, task_id) -> None:
    """The JSON of ``task-<id>.json`` as daemons before the record model wrote it: read back
    field for field, and written again byte for byte (a daemon upgraded while tasks run)."""
    task = new_task(task_id, "fix it")
    old = {"task": task.model_dump(mode="json"), "runner": "claude", "backend": "screen",
           "session": f"orc-{task_id}", "started_at": 1700000000.25, "timeout_s": 1800,
           "stop_kind": "cancel", "stop_reason": "cancelled from the hub", "temp_dir": None}
    path = dirs["run"] / f"task-{task_id}.json"
    path.write_text(json.dumps(old))
    (run,) = T.saved_runs(dirs["run"], dirs["log"])
    assert (run.id, run.session, run.started_at, run.stop_kind, run.stop_reason, run.temp_dir) == (
        task_id, f"orc-{task_id}", 1700000000.25, "cancel", "cancelled from the hub", None)
    assert run.record.timeout_s == 1800 and run.files.log == dirs["log"] / f"task-{task_id}.log"
    run.save()
    assert path.read_text() == json.dumps(old)
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_an_unreadable_record_is_skipped(dirs, task_id) -> None:
    (dirs["run"] / f"task-{task_id}.json").write_text('{"task": {}}')
    (dirs["run"] / f"task-{task_id}.launch.json").write_text("{}")  # the launcher's spec, not a record
    assert T.saved_runs(dirs["run"], dirs["log"]) == []
