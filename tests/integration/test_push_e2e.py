"""Push, pull request and discard of a finished task's branch through the real hub, the real
daemon (screen, the shell runner), real git with a local bare repository as ``origin`` and the
fake ``gh`` on the daemon's PATH: the CLI asks, the daemon acts with the server's own git, the
outcome (or the reason it failed) comes back to the CLI and the task."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from integration_harness import Agent, Cli, Hub, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

FAKES = Path(__file__).resolve().parents[1] / "fakes"
IDENT = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
PR_URL = "https://github.com/acme/repo/pull/77"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *IDENT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def repo_with_origin(tmp_path: Path) -> tuple[Path, Path]:
    repo, bare = tmp_path / "repo", tmp_path / "origin.git"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("hello\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    return repo, bare


def start_agent(make_agent: Callable[..., Agent], tmp_path: Path, repo: Path) -> Agent:
    return make_agent(repos={"work": repo}, overrides={"workspace": {"root": str(tmp_path / "worktrees")}})


@pytest.fixture
def with_gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake gh first on the PATH the daemon starts with; returns its argv log."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(FAKES / "gh", bindir / "gh")
    log = tmp_path / "gh-argv.jsonl"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_GH_ARGV_LOG", str(log))
    monkeypatch.setenv("FAKE_GH_URL", PR_URL)
    return log


def finished(hub: Hub, cli: Cli, agent: Agent, title: str) -> dict[str, Any]:
    task = cli.create_task("printf 'feature\\n' > feature.txt", agent.name, "work", title, "--runner", "shell")
    assert hub.wait_final(task["id"], timeout=60)["status"] == "completed"
    return cli.json("tasks", "show", task["id"])


def test_push_then_open_a_pull_request(hub: Hub, cli: Cli, make_agent: Callable[..., Agent], tmp_path: Path,
                                       with_gh: Path) -> None:
    repo, bare = repo_with_origin(tmp_path)
    agent = start_agent(make_agent, tmp_path, repo)
    task = finished(hub, cli, agent, "Add the feature")
    branch, head = task["workspace"]["branch"], task["workspace"]["head_commit"]

    out = cli.run("tasks", "push", task["id"][:8], "--wait", "60")
    assert f"pushed {branch} to origin" in out.stdout
    assert git(bare, "rev-parse", f"refs/heads/{branch}") == head

    out = cli.run("tasks", "push", task["id"], "--pr", "--title", "Add the feature, reviewed", "--wait", "60")
    assert PR_URL in out.stdout
    shown = cli.json("tasks", "show", task["id"])
    assert shown["pr_url"] == PR_URL and shown["workspace_action"]["status"] == "done"
    call = json.loads(with_gh.read_text().splitlines()[-1])
    assert f"--head={branch}" in call["argv"] and "--base=main" in call["argv"]
    assert "--title=Add the feature, reviewed" in call["argv"]
    assert PR_URL in cli.run("tasks", "show", task["id"]).stdout

    # the Agents view: the disk the task worktrees use, as the daemon measured it
    disk = wait_for(lambda: (cli.json("agents", "show", agent.name).get("workspace_disk") or {}).get("worktrees"),
                    30, "the daemon to report its worktrees' disk use")
    assert disk >= 1
    assert "task worktree(s)" in cli.run("agents", "show", agent.name).stdout


def test_failures_come_back_with_the_reason_and_the_branch_stays(
        hub: Hub, cli: Cli, make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    repo, bare = repo_with_origin(tmp_path)
    agent = start_agent(make_agent, tmp_path, repo)  # no gh / glab on this machine's PATH
    task = finished(hub, cli, agent, "Risky change")
    branch = task["workspace"]["branch"]

    out = cli.run("tasks", "push", task["id"], "--remote", "upstream", "--wait", "60", check=False)
    assert out.returncode == 1 and "no remote 'upstream'" in out.stderr and "origin" in out.stderr
    assert "no remote 'upstream'" in cli.json("tasks", "show", task["id"])["workspace_action"]["message"]

    out = cli.run("tasks", "push", task["id"], "--pr", "--wait", "60", check=False)
    assert out.returncode == 1 and "pushed" in out.stderr and "neither gh" in out.stderr

    other = tmp_path / "someone-else"  # the remote's branch moves on: a push is now non-fast-forward
    git(tmp_path, "clone", "-q", "-b", branch, str(bare), str(other))
    git(other, "commit", "-q", "--allow-empty", "-m", "theirs")
    git(other, "push", "-q", "origin", branch)
    before = git(repo, "rev-parse", branch)
    (tmp_path / "worktrees" / task["id"] / "more.txt").write_text("more\n")
    git(tmp_path / "worktrees" / task["id"], "add", "-A")
    git(tmp_path / "worktrees" / task["id"], "commit", "-q", "-m", "more")
    out = cli.run("tasks", "push", task["id"], "--wait", "60", check=False)
    assert out.returncode == 1 and "non-fast-forward" in out.stderr
    assert git(repo, "rev-parse", branch) != before  # the local branch (with its new commit) stays


def test_discard_refuses_unpushed_work_then_forced(hub: Hub, cli: Cli, make_agent: Callable[..., Agent],
                                                   tmp_path: Path) -> None:
    repo, _ = repo_with_origin(tmp_path)
    agent = start_agent(make_agent, tmp_path, repo)
    task = finished(hub, cli, agent, "Throwaway")
    branch, worktree = task["workspace"]["branch"], tmp_path / "worktrees" / task["id"]

    out = cli.run("tasks", "discard", task["id"], "--wait", "60", check=False)
    assert out.returncode == 1 and "on no remote" in out.stderr and "--force" in out.stderr
    assert worktree.is_dir() and git(repo, "branch", "--list", branch)

    out = cli.run("tasks", "discard", task["id"], "--force", "--wait", "60")
    assert f"deleted branch {branch}" in out.stdout
    assert not worktree.exists() and not git(repo, "branch", "--list", branch)
    again = cli.run("tasks", "push", task["id"], "--wait", "5", check=False)
    assert again.returncode == 1 and "discarded already" in again.stderr


def test_a_task_adopted_after_a_daemon_restart_reports_its_workspace(
        hub: Hub, cli: Cli, make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    repo, _ = repo_with_origin(tmp_path)
    agent = start_agent(make_agent, tmp_path, repo)
    go = tmp_path / "go"
    spec = (f"for i in $(seq 1200); do [ -e {go} ] && break; sleep 0.1; done; "
            "printf 'after the restart\\n' > adopted.txt")
    task = cli.create_task(spec, agent.name, "work", "Survive a restart", "--runner", "shell")
    hub.wait_status(task["id"], "running", timeout=60)
    agent.kill()  # SIGKILL: the task's screen session keeps running
    agent.start()
    go.touch()
    assert hub.wait_final(task["id"], timeout=90)["status"] == "completed"
    ws = cli.json("tasks", "show", task["id"])["workspace"]
    assert ws["kind"] == "worktree" and ws["files_changed"] == 1 and ws["committed"] is True
    assert "adopted.txt" in cli.run("tasks", "diff", task["id"]).stdout


def test_a_session_that_cannot_start_leaves_no_worktree_or_branch(
        hub: Hub, cli: Cli, make_agent: Callable[..., Agent], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, _ = repo_with_origin(tmp_path)
    bindir = tmp_path / "bin-without-screen"  # git and bash, no screen: the session cannot start
    bindir.mkdir()
    for tool in ("git", "bash"):
        os.symlink(subprocess.run(["which", tool], capture_output=True, text=True, check=True).stdout.strip(),
                   bindir / tool)
    monkeypatch.setenv("PATH", str(bindir))
    agent = start_agent(make_agent, tmp_path, repo)
    task = cli.create_task("true", agent.name, "work", "Never starts", "--runner", "shell")
    final = hub.wait_final(task["id"], timeout=60)
    assert final["status"] == "failed" and "screen" in final["error"], final
    root = tmp_path / "worktrees"
    assert not (root / task["id"]).exists()
    assert git(repo, "branch", "--list", f"orchestratia/{task['id'][:8]}*") == ""
    assert "its session did not start: removed its worktree" in agent.daemon_log.read_text()
