"""A task with no repo runs in its own temporary directory, which is removed (with what the task
left in it, read-only parts included) once the hub has the report, and not before: the log lives
in log_dir and stays. Across a daemon restart the adopted task's directory is removed the same way.
The real hub (a subprocess) and the real daemon in this process, screen, the shell runner."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from orchestratia.agent import tasks as T
from orchestratia.agent.workdir import make_temp_dir, remove_temp_dir
from orchestratia.protocol import TaskPayload

from .test_daemon import Running, hub, setup_agent  # noqa: F401 - hub is a fixture

# what a task may leave behind: files, a read-only tree (like a Go module cache), a symlink out
LEAVE_MESS = ("pwd; echo data > out.txt; mkdir -p cache/mod/pkg && echo x > cache/mod/pkg/f.go && "
              "chmod -R a-w cache; ln -s {keep} link-out; echo made")


@pytest.fixture
def task_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The daemon's $TMPDIR for this test (tempfile.gettempdir()): where no-repo tasks run."""
    d = tmp_path / "tmpdir"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


async def until(cond, timeout: float, what: str):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(0.02)
    return value


def first_line(log: Path) -> str | None:
    data = log.read_bytes() if log.exists() else b""
    return data.split(b"\n", 1)[0].decode() if b"\n" in data else None


async def test_a_no_repo_task_s_directory_is_removed_once_reported(hub, tmp_path, task_tmp, cleanup_sessions) -> None:
    keep = tmp_path / "outside"
    keep.mkdir()
    (keep / "precious").write_text("stays")
    cfg, admin = await setup_agent(hub, tmp_path, "ut-workdir", shell={"enabled": True})
    d = Running(cfg)
    try:
        t = (await admin.call("POST", "/tasks", json={"title": "no repo", "runner": "shell", "agent": "ut-workdir",
                                                      "spec": LEAVE_MESS.format(keep=keep)})).json()
        cleanup_sessions.append(("screen", f"orc-{t['id']}"))
        done = await admin.wait_task(t["id"], {"completed", "failed"})
        assert done["status"] == "completed", done
        log = tmp_path / "log" / f"task-{t['id']}.log"
        workdir = Path(first_line(log) or "")
        assert workdir.parent == task_tmp and workdir.name.startswith(f"orc-{t['id'][:8]}-")
        assert b"made" in log.read_bytes()
        await until(lambda: not workdir.exists(), 10, "the task's temporary directory to be removed")
        assert list(task_tmp.iterdir()) == []
        # the directory goes first, then the task's records (so a restart in between retries)
        await until(lambda: not list((tmp_path / "run").glob(f"task-{t['id']}.*")), 10, "the task's records to go")
        assert (keep / "precious").read_text() == "stays"  # a symlink out is removed, not followed
        assert await admin.output(t["id"]) == log.read_bytes()  # the log stays, whole
    finally:
        assert await d.shutdown() == 0


async def test_after_a_restart_the_adopted_task_s_directory_is_removed_once_reported(
        hub, tmp_path, task_tmp, cleanup_sessions) -> None:
    cfg, admin = await setup_agent(hub, tmp_path, "ut-workdir-restart", shell={"enabled": True})
    d = Running(cfg)
    t = (await admin.call("POST", "/tasks", json={"title": "no repo", "runner": "shell", "agent": "ut-workdir-restart",
                                                  "spec": "pwd; echo kept > out.txt; sleep 1; echo end"})).json()
    cleanup_sessions.append(("screen", f"orc-{t['id']}"))
    log = tmp_path / "log" / f"task-{t['id']}.log"
    workdir = Path(await until(lambda: first_line(log), 15, "the task to print its directory"))
    assert workdir.parent == task_tmp
    assert await d.shutdown() == 0  # the session keeps running without the daemon
    exit_file = tmp_path / "run" / f"task-{t['id']}.exit"
    await until(exit_file.exists, 15, "the task to end while no daemon runs")
    # ended but not reported: its directory stays, and its record names it
    assert (workdir / "out.txt").read_text() == "kept\n"
    assert (await admin.task(t["id"]))["status"] == "running"
    record = json.loads((tmp_path / "run" / f"task-{t['id']}.json").read_text())
    assert record["temp_dir"] == str(workdir)
    d = Running(cfg)
    try:
        done = await admin.wait_task(t["id"], {"completed", "failed"})
        assert done["status"] == "completed", done
        await until(lambda: not workdir.exists(), 10, "the adopted task's directory to be removed")
        assert not exit_file.exists()
        assert await admin.output(t["id"]) == log.read_bytes()
    finally:
        assert await d.shutdown() == 0


def test_only_a_directory_made_for_the_task_is_removed(tmp_path: Path, task_tmp: Path) -> None:
    task = TaskPayload.model_validate({"id": str(uuid.uuid4()), "title": "t", "spec": "s", "status": "running"})
    (tmp_path / "log").mkdir()
    (tmp_path / "run").mkdir()
    run = T.new_run(task, "shell", "direct", tmp_path / "log", tmp_path / "run", None)
    precious = tmp_path / "precious"
    precious.mkdir()
    run.record.temp_dir = str(precious)  # e.g. a record edited by hand: not a directory made for this task
    assert remove_temp_dir(run) is False and precious.is_dir()
    other = make_temp_dir(str(uuid.uuid4()))  # another task's
    run.record.temp_dir = other
    assert remove_temp_dir(run) is False and Path(other).is_dir()
    mine = Path(make_temp_dir(task.id))
    (mine / "deep" / "er").mkdir(parents=True)
    (mine / "deep" / "er" / "f").write_text("x")
    (mine / "deep").chmod(0o500)
    (mine / "deep" / "er").chmod(0o000)  # not even readable
    run.record.temp_dir = str(mine)
    assert remove_temp_dir(run) is True and not mine.exists()
    assert remove_temp_dir(run) is True  # already gone
