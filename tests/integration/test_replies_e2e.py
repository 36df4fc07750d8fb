"""Replies continue the conversation, end to end: the real hub, the real daemon, screen, real
git and the fake CLIs (which record the argv the daemon gave them). A reply resumes the
parent's CLI session (``claude --resume <id>``, ``codex exec resume <id>``) in the parent's
worktree, on its branch: the reply's commit lands on top of the parent's, and the reply's diff
is its own change. A worktree removed meanwhile is made again from the branch."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from integration_harness import Agent, Cli, Hub, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

FAKES = Path(__file__).resolve().parents[1] / "fakes"
IDENT = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *IDENT, *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("hello\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    return path


def runs(argv_log: Path) -> list[dict[str, Any]]:
    """Every run of a fake CLI so far: {"argv", "cwd"}."""
    if not argv_log.exists():
        return []
    return [json.loads(line) for line in argv_log.read_text().splitlines() if line.strip()]


def emitted(agent: Agent, task_id: str, event: str, key: str) -> str:
    """The value of ``key`` in the first ``event`` line the fake CLI printed for the task."""
    for line in agent.task_log(task_id).read_text(errors="replace").splitlines():
        if line.startswith("{"):
            ev = json.loads(line)
            if ev.get("type") == event or f"{ev.get('type')}/{ev.get('subtype')}" == event:
                return str(ev[key])
    raise AssertionError(f"no {event} event in the output of task {task_id}")


def has_pair(argv: list[str], flag: str, value: str) -> bool:
    return any(argv[i] == flag and argv[i + 1] == value for i in range(len(argv) - 1))


@pytest.fixture
def setup(make_agent: Callable[..., Agent], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Agent, Path, Path]:
    argv_log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("FAKE_ARGV_LOG", str(argv_log))  # the daemon's environment, passed on to its tasks
    repo = make_repo(tmp_path / "repo")
    agent = make_agent(repos={"work": repo}, overrides={
        "workspace": {"root": str(tmp_path / "worktrees"), "author": "Robot <robot@example.com>"},
        "codex": {"binary": str(FAKES / "codex"), "enabled": True}})
    return agent, repo, argv_log


def reply(cli: Cli, task_id: str, message: str) -> dict[str, Any]:
    return cli.json("tasks", "reply", task_id, message)


def test_a_reply_resumes_the_claude_session_on_the_same_branch(hub: Hub, cli: Cli, setup: tuple[Agent, Path, Path],
                                                              tmp_path: Path) -> None:
    agent, repo, argv_log = setup
    parent = cli.create_task("Write notes FAKE_WRITE=notes.txt FAKE_WRITE_TEXT=first", agent.name, "work", "Notes")
    done = hub.wait_final(parent["id"], timeout=60)
    assert done["status"] == "completed", done
    session = emitted(agent, parent["id"], "system/init", "session_id")
    assert done["session_id"] == session
    ws = done["workspace"]

    # a reply while another task of the thread runs is refused with what to do
    gate = tmp_path / "gate"
    child = reply(cli, parent["id"], f"Wait FAKE_WAIT_FOR_FILE={gate} FAKE_WRITE=notes.txt FAKE_WRITE_TEXT=second")
    assert child["parent_id"] == parent["id"] and child["status"] in ("assigned", "running")
    hub.wait_status(child["id"], "running", timeout=60)
    refused = cli.run("tasks", "reply", child["id"], "more", check=False)
    assert refused.returncode != 0 and "running" in refused.stderr and "wait" in refused.stderr
    gate.touch()
    done2 = hub.wait_final(child["id"], timeout=60)
    assert done2["status"] == "completed", done2

    # the reply resumed the parent's conversation, in the parent's worktree
    first, second = runs(argv_log)[-2:]
    assert not has_pair(first["argv"], "--resume", session)
    assert has_pair(second["argv"], "--resume", session), second["argv"]
    assert second["cwd"] == first["cwd"]
    assert done2["session_id"] == session  # the conversation goes on under the same id

    # on the same branch, on top of the parent's commit; its diff is its own change
    ws2 = done2["workspace"]
    assert ws2["branch"] == ws["branch"] and ws2["base_commit"] == ws["head_commit"]
    assert git(repo, "rev-parse", f"{ws2['head_commit']}^") == ws["head_commit"]
    assert git(repo, "show", f"{ws['branch']}:notes.txt") == "first\nsecond"
    diff = cli.run("tasks", "diff", child["id"]).stdout
    assert "+second" in diff and "+first" not in diff
    assert (ws2["files_changed"], ws2["insertions"], ws2["deletions"]) == (1, 1, 0)

    # the worktree removed meanwhile: made again from the branch, and the thread goes on
    git(repo, "worktree", "remove", "--force", first["cwd"])
    third = reply(cli, child["id"], "Once more FAKE_WRITE=notes.txt FAKE_WRITE_TEXT=third")
    done3 = hub.wait_final(third["id"], timeout=60)
    assert done3["status"] == "completed", done3
    assert has_pair(runs(argv_log)[-1]["argv"], "--resume", session)
    assert done3["workspace"]["base_commit"] == ws2["head_commit"]
    assert git(repo, "show", f"{ws['branch']}:notes.txt") == "first\nsecond\nthird"
    thread = hub.api("GET", f"/tasks/{third['id']}/thread").json()
    assert [t["id"] for t in thread] == [parent["id"], child["id"], third["id"]]


def test_a_reply_resumes_the_codex_thread(hub: Hub, cli: Cli, setup: tuple[Agent, Path, Path]) -> None:
    agent, _, argv_log = setup
    parent = cli.create_task("Look around", agent.name, "work", "Codex", "--runner", "codex")
    assert hub.wait_final(parent["id"], timeout=60)["status"] == "completed"
    thread_id = emitted(agent, parent["id"], "thread.started", "thread_id")
    child = reply(cli, parent["id"], "And now the tests")
    done = hub.wait_final(child["id"], timeout=60)
    assert done["status"] == "completed", done
    argv = runs(argv_log)[-1]["argv"]
    assert argv[argv.index("resume"):] == ["resume", thread_id, "--", "And now the tests"], argv
    assert done["session_id"] == thread_id
